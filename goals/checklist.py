"""The server-side goal checklist (SPEC §6).

Four prerequisites for sending an Express agent's goals through the REST API and
having them matched to the variation a visitor saw:
1. an Express target of the agent passes the External Visitor ID;
2. a REST target of the account passes it;
3. the goal is triggered "Programmatically, via API";
4. the goal's "Goal events to be sent via REST API" is on.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Model

from goals.models import REST_SEND_LABEL, TRIGGER_API_LABEL, Goal, GoalTrigger
from targets.models import ALLOW_EXTERNAL_VID_LABEL, DeployTarget, TargetKind

EXPRESS_PASSES_VID = "express_passes_vid"
REST_PASSES_VID = "rest_passes_vid"
GOAL_TRIGGER_API = "goal_trigger_api"
GOAL_REST_SEND = "goal_rest_send"


@dataclass(frozen=True)
class ChecklistItem:
    """One prerequisite. `fix` is the object to edit to tick it, or a model class to add one."""

    key: str
    label: str
    ok: bool
    detail: str
    fix: Model | type[Model] | None


def _target_item(
    *, key: str, kind: str, targets: Iterable[DeployTarget], where: str
) -> ChecklistItem:
    kind_label = "Express" if kind == TargetKind.EXPRESS else "REST"
    label = f"{kind_label} target passes the External Visitor ID"
    candidates = [t for t in targets if t.kind == kind and t.enabled]
    passing = [t for t in candidates if t.allow_external_vid]
    if passing:
        names = ", ".join(t.code for t in passing)
        return ChecklistItem(key, label, True, f"Allowed on {names}.", passing[0])
    if candidates:
        return ChecklistItem(
            key,
            label,
            False,
            f"Turn on “{ALLOW_EXTERNAL_VID_LABEL}” (Data Passing) on "
            f"{', '.join(t.code for t in candidates)}.",
            candidates[0],
        )
    return ChecklistItem(
        key, label, False, f"{where} has no enabled {kind_label} target: add one.", DeployTarget
    )


def server_side_checklist(
    *, goal: Goal, express_targets: Iterable[DeployTarget] | None = None
) -> list[ChecklistItem]:
    """Return the four items for `goal`.

    `express_targets` are the targets where the goal's selections are made (an agent's
    targets); by default, those of the agents that track the goal, else the account's.
    """
    account_targets = list(DeployTarget.objects.filter(account_id=goal.account_id))
    if express_targets is None:
        express_targets = (
            list(DeployTarget.objects.filter(agents__goals=goal).distinct()) or account_targets
        )
        where = "The account"
    else:
        express_targets = list(express_targets)
        where = "The agent"
    return [
        _target_item(
            key=EXPRESS_PASSES_VID, kind=TargetKind.EXPRESS, targets=express_targets, where=where
        ),
        _target_item(
            key=REST_PASSES_VID, kind=TargetKind.REST, targets=account_targets, where="The account"
        ),
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
