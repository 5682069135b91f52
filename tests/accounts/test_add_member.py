"""Owners add members (SPEC §6b): an existing staff user by user name, or a new user who
chooses a password through a link shown once; other roles cannot."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Membership
from accounts.roles import Role
from accounts.services import membership_add

pytestmark = pytest.mark.django_db


def _url(account):
    return reverse("admin:accounts_account_add_member", args=[account.pk])


def test_owner__adds_an_existing_user_with_a_role(staff_client, account):
    bob = get_user_model().objects.create_user(username="bob", is_staff=True)
    response = staff_client.post(_url(account), {"username": "bob", "role": "viewer"})
    assert response.status_code == 302
    assert Membership.objects.get(account=account, user=bob).role == Role.VIEWER


def test_owner__adds_a_new_user_who_sets_a_password(staff_client, account, client):
    response = staff_client.post(
        _url(account), {"username": "carol", "email": "carol@example.com", "role": "editor"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    link = re.search(r'id="password-set-link">([^<]+)<', response.content.decode()).group(1)
    carol = get_user_model().objects.get(username="carol")
    assert (carol.is_staff, carol.has_usable_password()) == (True, False)
    assert Membership.objects.get(account=account, user=carol).role == Role.EDITOR
    form = client.get(link, follow=True)
    assert 'name="new_password1"' in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a long new passphrase 7", "new_password2": "a long new passphrase 7"},
    )
    assert done.status_code == 302
    assert client.login(username="carol", password="a long new passphrase 7")
    again = client.get(link, follow=True)  # the link works once
    assert 'name="new_password1"' not in again.content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"username": "alice", "role": "viewer"}, "a member of ac-acme already"),
        ({"username": "bad name!", "role": "viewer"}, "Enter a valid username"),
        ({"username": "dave", "role": "admin"}, "Select a valid choice"),
        ({"username": "dave", "email": "nope", "role": "viewer"}, "valid email"),
    ],
)
def test_owner__bad_input_is_a_form_error(staff_client, account, data, error):
    response = staff_client.post(_url(account), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert Membership.objects.filter(account=account).count() == 1  # alice only


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_other_roles__refused(client, account, role):
    user = get_user_model().objects.create_user(username=f"u-{role}", is_staff=True)
    membership_add(account=account, user=user, role=role)
    client.force_login(user)
    assert client.get(_url(account)).status_code == 403
    assert client.post(_url(account), {"username": "eve", "role": "owner"}).status_code == 403
    assert not get_user_model().objects.filter(username="eve").exists()
    page = client.get(reverse("admin:accounts_account_change", args=[account.pk]))
    assert "add-member-link" not in page.content.decode()


def test_owner_of_another_account__cannot_add_here(client, account, other_account):
    user = get_user_model().objects.create_user(username="olga", is_staff=True)
    membership_add(account=other_account, user=user, role=Role.OWNER)
    client.force_login(user)
    response = client.post(_url(account), {"username": "olga", "role": "owner"})
    assert response.status_code in (403, 404)
    assert not Membership.objects.filter(account=account, user=user).exists()
