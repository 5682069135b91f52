import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Account, AdminApiKey
from accounts.selectors import admin_key_lookup

pytestmark = pytest.mark.django_db


def test_create_account__prints_a_working_admin_key_once(capsys):
    call_command("create_account", "ac-shop", "--name", "Shop")
    out = capsys.readouterr().out
    raw = next(word for word in out.split() if word.startswith("admin-"))
    key = admin_key_lookup(raw=raw)
    assert key is not None
    assert key.account.code == "ac-shop"
    assert AdminApiKey.objects.get().key_hash != raw


def test_create_account__json__gives_code_and_key(capsys):
    call_command(
        "create_account",
        "ac-shop",
        "--name",
        "Shop",
        "--json",
        "--attribution-window-hours",
        "48",
    )
    data = json.loads(capsys.readouterr().out)
    assert data["code"] == "ac-shop"
    assert data["attribution_window_hours"] == 48
    assert admin_key_lookup(raw=data["admin_key"]).account.name == "Shop"


def test_create_account__staff__become_members():
    user = get_user_model().objects.create_user(username="alice", is_staff=True)
    call_command("create_account", "ac-shop", "--name", "Shop", "--staff", "alice")
    assert list(Account.objects.get(code="ac-shop").members.all()) == [user]


def test_create_account__unknown_staff__is_a_clear_error_and_creates_nothing():
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_account", "ac-shop", "--name", "Shop", "--staff", "ghost")
    assert not Account.objects.exists()


def test_create_account__bad_code__is_a_clear_error():
    with pytest.raises(CommandError, match="account code"):
        call_command("create_account", "shop", "--name", "Shop")
    assert not Account.objects.exists()


def test_create_account__taken_code__is_a_clear_error():
    call_command("create_account", "ac-shop", "--name", "Shop")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_account", "ac-shop", "--name", "Shop again")
    assert AdminApiKey.objects.count() == 1


def test_create_account__retention_below_window__is_refused():
    with pytest.raises(CommandError, match="must cover the attribution window"):
        call_command("create_account", "ac-shop", "--name", "Shop", "--retention-days", "1")


@pytest.mark.parametrize(("args", "role"), [([], "owner"), (["--role", "viewer"], "viewer")])
def test_create_account__staff_members_role(args, role):
    from accounts.models import Membership

    get_user_model().objects.create_user(username="bob", is_staff=True)
    call_command("create_account", "ac-roles", "--name", "Roles", "--staff", "bob", *args)
    assert Membership.objects.get(user__username="bob").role == role
