"""Writes on goals."""

from django.db import transaction

from accounts.codes import code_generate
from accounts.models import Account
from goals.models import Goal, GoalCounting, GoalTrigger


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
    max_value: float | None = None,
    attribution_window_hours: int | None = None,
) -> Goal:
    """Create a goal. Raises ValidationError on bad input, such as `rest_send` on a page goal."""
    goal = Goal(
        account=account,
        code=code or goal_code_generate(account=account, name=name),
        name=name,
        trigger=trigger,
        rest_send=rest_send,
        counting=counting,
        max_value=max_value,
        attribution_window_hours=attribution_window_hours,
    )
    goal.full_clean()
    goal.save()
    return goal
