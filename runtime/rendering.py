"""The Conductrics v3 envelope: `{"status": 200, "data": {"items", "sels", "traits", ...}}`.

Official Conductrics clients parse it strictly: every selection item carries a, c, p, s,
md; every goal item g, s, rs. `skipped`, `replay` and `warnings` are our additions.
"""

from typing import Any

from goals.reasons import BOT, INVALID_EVENT, NO_SELECTION, STATUS_ERR, STATUS_NONE, STATUS_OK
from visitors.batch import BadEvent
from visitors.request import AliasResult, ExecutionResult, GoalResult, SelectionResult, goal_item


def selection_item(item: SelectionResult) -> dict[str, Any]:
    return {"a": item.agent, "c": item.variation, "p": item.policy, "s": item.status, "md": item.md}


def envelope_render(
    *,
    result: ExecutionResult,
    traits: tuple[str, ...],
    warnings: list[dict[str, str | None]],
    debug_log: list[str] | None,
) -> dict[str, Any]:
    """Render the answer; `warnings` are the request's own, command warnings are added."""
    items: list[dict[str, Any]] = []
    sels: dict[str, str] = {}
    warnings = list(warnings)
    for item in result.items:
        if isinstance(item, AliasResult):
            items.append(item.item())
            if item.err:
                warnings.append({"reason": item.err, "detail": item.detail})
        elif isinstance(item, SelectionResult):
            if item.variation is not None:  # selected
                items.append(selection_item(item))
                sels[item.agent] = item.variation
                if item.warning:
                    warnings.append(
                        {"reason": item.warning, "a": item.agent, "detail": item.detail}
                    )
            else:
                warnings.append({"reason": item.reason, "a": item.agent, "detail": item.detail})
        else:
            items.append(goal_item(item))
            if item.err:
                warnings.append({"reason": item.err, "g": item.goal, "detail": item.detail})
            elif item.bot:
                warnings.append({"reason": BOT, "g": item.goal, "detail": item.detail})
            elif item.no_selection:
                warnings.append({"reason": NO_SELECTION, "g": item.goal, "detail": item.detail})
    data: dict[str, Any] = {"items": items, "sels": sels, "traits": list(traits)}
    if warnings:
        data["warnings"] = warnings
    if debug_log is not None:
        data["log"] = debug_log
    return {"status": 200, "data": data}


def batch_item(result: GoalResult, index: int) -> dict[str, Any]:
    """An event's item in a batch's answer: its goal item, its index, and why it was
    refused when it was."""
    item = goal_item(result, why_refused=True)
    item["i"] = index
    return item


def bad_event_item(event: BadEvent, index: int) -> dict[str, Any]:
    return {
        "g": event.goal, "s": STATUS_ERR, "rs": [], "err": INVALID_EVENT,
        "detail": event.detail, "i": index,
    }  # fmt: skip


def batch_render(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch's answer: its items and how many ended each way (a replay counted apart)."""
    counts = {STATUS_OK: 0, STATUS_NONE: 0, STATUS_ERR: 0, "replay": 0}
    for item in items:
        counts["replay" if item.get("replay") else item["s"]] += 1
    return {"status": 200, "data": {"items": items, "counts": counts}}
