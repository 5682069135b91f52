"""Writes on goals."""

from typing import Any

from django.db import transaction

from accounts.codes import code_generate, code_validate_free
from accounts.models import Account
from accounts.recorded_data import RecordedData, recorded_data_refuse
from goals.choices import GoalAcceptedFrom, GoalCounting, GoalTrigger
from goals.models import Goal


def goal_code_generate(*, account: Account, name: str) -> str:
    """Return a free goal code for `account`, made from `name`."""
    return code_generate(
        prefix="g-",
        name=name,
        is_taken=lambda c: Goal.objects.filter(account=account, code=c).exists(),
    )


@transaction.atomic
def goal_create(
    *,
    account: Account,
    name: str,
    code: str | None = None,
    trigger: str = GoalTrigger.PAGE_EVENT,
    rest_send: bool = False,
    counting: str = GoalCounting.ONCE,
    accepted_from: str = GoalAcceptedFrom.ANY,
    max_value: float | None = None,
    attribution_window_hours: int | None = None,
    when: object = None,
) -> Goal:
    """Create a goal. Raises ValidationError on bad input, such as `rest_send` on a page goal."""
    if code:
        code_validate_free(
            taken=Goal.objects.filter(account=account, code=code).exists(),
            code=code,
            label="goal",
        )
    goal = Goal(
        account=account,
        code=code or goal_code_generate(account=account, name=name),
        name=name,
        trigger=trigger,
        rest_send=rest_send,
        counting=counting,
        accepted_from=accepted_from,
        max_value=max_value,
        attribution_window_hours=attribution_window_hours,
        when=when,
    )
    goal.full_clean()
    goal.save()
    return goal


GOAL_EDITABLE = (
    "name",
    "trigger",
    "rest_send",
    "counting",
    "accepted_from",
    "max_value",
    "attribution_window_hours",
    "when",
)


@transaction.atomic
def goal_update(*, goal: Goal, **changes: Any) -> Goal:
    """Change the editable fields of `goal` (its code is fixed); return it.

    Raises ValidationError on bad values (such as rest_send on a page-event goal).
    """
    for name, value in changes.items():
        if name not in GOAL_EDITABLE:
            raise ValueError(f"{name} is not an editable field of a goal")
        setattr(goal, name, value)
    goal.full_clean()
    goal.save(update_fields=[*changes, "updated_at"])  # only what changed
    return goal


def goal_delete(*, goal: Goal, force: bool = False) -> RecordedData:
    """Delete `goal`; refuse (ValidationError) when it has recorded data, unless `force`."""
    data = recorded_data_refuse(obj=goal, label=f"Goal {goal.code}", force=force)
    goal.delete()
    return data
