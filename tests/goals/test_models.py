import pytest
from django.core.exceptions import ValidationError

from accounts.services import account_create
from goals.models import GoalCounting, GoalTrigger
from goals.services import goal_create

pytestmark = pytest.mark.django_db


def test_goal__defaults(account):
    goal = goal_create(account=account, name="Click")
    assert goal.code == "g-click"
    assert goal.trigger == GoalTrigger.PAGE_EVENT
    assert goal.rest_send is False
    assert goal.counting == GoalCounting.ONCE
    assert goal.window_hours == 72


def test_goal__rest_send_on_page_event_goal__is_refused_naming_both_options(account):
    with pytest.raises(ValidationError) as exc:
        goal_create(account=account, name="Buy", trigger=GoalTrigger.PAGE_EVENT, rest_send=True)
    message = exc.value.message_dict["rest_send"][0]
    assert "Goal events to be sent via REST API" in message
    assert "Programmatically, via API" in message


def test_goal__rest_send_on_api_goal__is_accepted(account):
    goal = goal_create(account=account, name="Buy", trigger=GoalTrigger.API, rest_send=True)
    assert goal.rest_send


@pytest.mark.parametrize("code", ["purchase", "g-", "g-a b", "g-" + "a" * 41])
def test_goal__malformed_code__is_refused(account, code):
    with pytest.raises(ValidationError) as exc:
        goal_create(account=account, name="Buy", code=code)
    assert "code" in exc.value.message_dict


def test_goal__duplicate_code__is_refused(account):
    goal_create(account=account, name="Buy", code="g-buy")
    with pytest.raises(ValidationError):
        goal_create(account=account, name="Buy again", code="g-buy")


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan")])
def test_goal__max_value_not_positive_finite__is_refused(account, value):
    with pytest.raises(ValidationError) as exc:
        goal_create(account=account, name="Buy", max_value=value)
    assert "max_value" in exc.value.message_dict


@pytest.mark.parametrize("hours", [0, 2161])
def test_goal__window_out_of_range__is_refused(hours):
    account = account_create(code="ac-long", name="Long", retention_days=365)
    with pytest.raises(ValidationError) as exc:
        goal_create(account=account, name="Buy", attribution_window_hours=hours)
    assert "attribution_window_hours" in exc.value.message_dict


def test_goal__window_beyond_retention__is_refused(account):
    with pytest.raises(ValidationError) as exc:
        goal_create(account=account, name="Buy", attribution_window_hours=31 * 24)
    assert "retention" in exc.value.message_dict["attribution_window_hours"][0]


def test_goal__own_window__overrides_the_account(account):
    goal = goal_create(account=account, name="Buy", attribution_window_hours=24)
    assert goal.window_hours == 24
