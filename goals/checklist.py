"""The server-side goal checklist (SPEC §6).

Four prerequisites for sending an Express agent's goals through the REST API and
having them matched to the variation a visitor saw:
1. every Express target of the agent passes the External Visitor ID (an item per target);
2. a REST target of the account passes it;
3. the goal is triggered "Programmatically, via API";
4. the goal's "Goal events to be sent via REST API" is on;
and, recommended for goals that carry a value (sent programmatically, capped, or adding
up), 5. the goal is accepted from servers only, so a page's public key cannot forge it;
and 6. where a person's ids can be linked (SPEC §4d): by the servers through a REST target,
and by pages on the Express targets with "Allow linking visitor ids".
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Model

from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from goals.models import ACCEPTED_FROM_LABEL, REST_SEND_LABEL, TRIGGER_API_LABEL, Goal
from targets.models import (
    ALLOW_EXTERNAL_VID_LABEL,
    ALLOW_LINKING_LABEL,
    DeployTarget,
    TargetKind,
)

EXPRESS_PASSES_VID = "express_passes_vid"
REST_PASSES_VID = "rest_passes_vid"
GOAL_TRIGGER_API = "goal_trigger_api"
GOAL_REST_SEND = "goal_rest_send"
GOAL_SERVER_ONLY = "goal_server_only"
IDS_LINKED = "ids_linked"


@dataclass(frozen=True)
class ChecklistItem:
    """One prerequisite. `fix` is the object to edit to tick it, or a model class to add one."""

    key: str
    label: str
    ok: bool
    detail: str
    fix: Model | type[Model] | None
    recommended: bool = False  # advised, not needed for goals to be matched


def _express_items(*, targets: Iterable[DeployTarget], where: str) -> list[ChecklistItem]:
    """One item per enabled Express target: each must pass the vid, whatever the others do
    (a page on a target that does not pass it sends selections no REST goal can find)."""
    candidates = [t for t in targets if t.kind == TargetKind.EXPRESS and t.enabled]
    if not candidates:
        return [
            ChecklistItem(
                EXPRESS_PASSES_VID,
                "Express target passes the External Visitor ID",
                False,
                f"{where} has no enabled Express target: add one.",
                DeployTarget,
            )
        ]
    return [
        ChecklistItem(
            EXPRESS_PASSES_VID,
            f"Express target {t.code} passes the External Visitor ID",
            t.allow_external_vid,
            "Allowed."
            if t.allow_external_vid
            else f"Turn on “{ALLOW_EXTERNAL_VID_LABEL}” (Data Passing) on {t.code}.",
            t,
        )
        for t in candidates
    ]


def _rest_item(*, targets: Iterable[DeployTarget]) -> ChecklistItem:
    """Goals come from some server: one REST target of the account passing the vid will do."""
    label = "REST target passes the External Visitor ID"
    candidates = [t for t in targets if t.kind == TargetKind.REST and t.enabled]
    passing = [t for t in candidates if t.allow_external_vid]
    if passing:
        names = ", ".join(t.code for t in passing)
        return ChecklistItem(REST_PASSES_VID, label, True, f"Allowed on {names}.", passing[0])
    if candidates:
        return ChecklistItem(
            REST_PASSES_VID,
            label,
            False,
            f"Turn on “{ALLOW_EXTERNAL_VID_LABEL}” (Data Passing) on "
            f"{', '.join(t.code for t in candidates)}.",
            candidates[0],
        )
    return ChecklistItem(
        REST_PASSES_VID,
        label,
        False,
        "The account has no enabled REST target: add one.",
        DeployTarget,
    )


def server_side_checklist(
    *,
    goal: Goal,
    express_targets: Iterable[DeployTarget] | None = None,
    account_targets: Iterable[DeployTarget] | None = None,
) -> list[ChecklistItem]:
    """Return the items for `goal`: one per enabled Express target (or one saying there is
    none), then the REST target, the trigger and REST-send; for a goal that carries a value,
    the recommended fifth (accepted from servers only).

    `express_targets` are the targets where the goal's selections are made (an agent's
    targets); by default, those of the agents that track the goal, else the account's.
    `account_targets` (all the account's targets) saves their query when already read.
    """
    if account_targets is None:
        account_targets = DeployTarget.objects.filter(account_id=goal.account_id)
    account_targets = list(account_targets)
    if express_targets is None:
        express_targets = (
            list(DeployTarget.objects.filter(agents__goals=goal).distinct()) or account_targets
        )
        where = "The account"
    else:
        express_targets = list(express_targets)
        where = "The agent"
    items = [
        *_express_items(targets=express_targets, where=where),
        _rest_item(targets=account_targets),
        ChecklistItem(
            GOAL_TRIGGER_API,
            f"Goal {goal.code} is triggered “{TRIGGER_API_LABEL}”",
            goal.trigger == GoalTrigger.API,
            f"Trigger is “{goal.get_trigger_display()}”.",
            goal,
        ),
        ChecklistItem(
            GOAL_REST_SEND,
            f"Goal {goal.code} has “{REST_SEND_LABEL}” on",
            goal.rest_send,
            "On." if goal.rest_send else "Off.",
            goal,
        ),
    ]
    if goal_carries_value(goal):
        server_only = goal.accepted_from == GoalAcceptedFrom.SERVER
        items.append(
            ChecklistItem(
                GOAL_SERVER_ONLY,
                f"Goal {goal.code} is accepted from servers only",
                server_only,
                "Servers only: a page's public key cannot forge it."
                if server_only
                else f"“{ACCEPTED_FROM_LABEL}” is “{goal.get_accepted_from_display()}”: a "
                "page's public key can send it for any visitor.",
                goal,
                recommended=True,
            )
        )
    items.append(_linking_item(express=express_targets, account=account_targets))
    return items


def _linking_item(
    *, express: Iterable[DeployTarget], account: Iterable[DeployTarget]
) -> ChecklistItem:
    """Recommended: somewhere to link a person's ids (a cookie id, a customer number), so
    that goals sent with either find the variation shown (SPEC §4d)."""
    rest = [t for t in account if t.kind == TargetKind.REST and t.enabled and t.allow_external_vid]
    pages = [t for t in express if t.kind == TargetKind.EXPRESS and t.enabled and t.allow_linking]
    ways = []
    if rest:
        ways.append(f"servers link them with the alias command on {rest[0].code}")
    if pages:
        ways.append(
            f"pages on {', '.join(t.code for t in pages)} may (“{ALLOW_LINKING_LABEL}”: keep it "
            "for pages that learn the id from a login, as any page can link what it passes)"
        )
    return ChecklistItem(
        IDS_LINKED,
        "A person's ids can be linked",
        bool(ways),
        "; ".join(ways)[:1].upper() + "; ".join(ways)[1:] + "."
        if ways
        else "No REST target passes the vid, no Express target allows linking: a goal sent "
        "with a customer number cannot find a variation shown under a cookie id.",
        (rest or pages)[0] if rest or pages else DeployTarget,
        recommended=True,
    )


def goal_carries_value(goal: Goal) -> bool:
    """A goal whose events carry a value worth protecting: sent programmatically (a
    purchase), capped, or adding up."""
    return (
        goal.trigger == GoalTrigger.API
        or goal.max_value is not None
        or goal.counting == GoalCounting.EVERY
    )
