import pytest
from django.core.exceptions import ValidationError

from accounts.codes import code_generate
from accounts.keys import key_hash
from accounts.models import Account, AdminApiKey
from accounts.selectors import admin_key_lookup
from accounts.services import account_create, admin_key_create, admin_key_revoke
from goals.services import goal_create

pytestmark = pytest.mark.django_db


def test_account__defaults__are_72_hours_and_30_days():
    account = account_create(code="ac-x", name="X")
    assert account.attribution_window_hours == 72
    assert account.retention_days == 30


@pytest.mark.parametrize("code", ["acme", "ac-", "ac-UPPER", "ac-under_score", "ac-" + "a" * 41])
def test_account__malformed_code__is_refused(code):
    with pytest.raises(ValidationError) as exc:
        account_create(code=code, name="X")
    assert "code" in exc.value.message_dict


def test_account__duplicate_code__is_refused():
    account_create(code="ac-x", name="X")
    with pytest.raises(ValidationError) as exc:
        account_create(code="ac-x", name="Y")
    assert "code" in exc.value.message_dict


@pytest.mark.parametrize("hours", [0, 2161])
def test_account__window_out_of_range__is_refused(hours):
    with pytest.raises(ValidationError) as exc:
        account_create(code="ac-x", name="X", attribution_window_hours=hours, retention_days=365)
    assert "attribution_window_hours" in exc.value.message_dict


def test_account__retention_shorter_than_window__is_refused():
    with pytest.raises(ValidationError) as exc:
        account_create(code="ac-x", name="X", attribution_window_hours=72, retention_days=2)
    assert "must cover the attribution window" in exc.value.message_dict["retention_days"][0]


def test_account__retention_equal_to_window__is_accepted():
    account = account_create(code="ac-x", name="X", attribution_window_hours=72, retention_days=3)
    assert account.pk


def test_account__retention_below_a_goal_window__is_refused():
    account = account_create(code="ac-x", name="X", retention_days=30)
    goal_create(account=account, name="Late", attribution_window_hours=24 * 20)
    account.retention_days = 10
    with pytest.raises(ValidationError) as exc:
        account.full_clean()
    assert "goal" in exc.value.message_dict["retention_days"][0]


def test_admin_key__is_stored_hashed_and_found_by_its_raw_value(account):
    key, raw = admin_key_create(account=account)
    assert raw.startswith("admin-")
    assert len(raw) == len("admin-") + 32
    stored = AdminApiKey.objects.get(pk=key.pk)
    assert stored.key_hash == key_hash(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}
    assert admin_key_lookup(raw=raw) == key


def test_admin_key__revoked__is_not_found(account):
    key, raw = admin_key_create(account=account)
    admin_key_revoke(key=key)
    assert admin_key_lookup(raw=raw) is None


def test_admin_key__unknown_or_runtime_key__is_not_found(account, express_target):
    admin_key_create(account=account)
    assert admin_key_lookup(raw="admin-" + "x" * 32) is None
    assert admin_key_lookup(raw=express_target.api_key) is None


def test_code_generate__slug_of_name_with_suffix_when_taken():
    taken = {"g-big-purchase", "g-big-purchase-2"}
    assert code_generate(prefix="g-", name="Big Purchase!", is_taken=taken.__contains__) == (
        "g-big-purchase-3"
    )


def test_code_generate__name_without_letters__gets_random_code():
    code = code_generate(prefix="a-", name="???", is_taken=lambda c: False)
    assert code.startswith("a-")
    assert len(code) > 2


def test_code_generate__long_name__stays_within_40_characters():
    code = code_generate(prefix="a-", name="x" * 100, is_taken=lambda c: c == "a-" + "x" * 40)
    assert len(code) - 2 <= 40
    assert code.endswith("-2")


def test_accounts__str__names_code(account):
    assert "ac-acme" in str(account)
    assert Account.objects.count() == 1
