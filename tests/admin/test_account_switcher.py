"""One account at a time (SPEC §6): a superuser or a member of several accounts picks one;
lists, filters, pickers and the overview then show that account's objects only."""

import pytest
from django.urls import reverse

from accounts.services import membership_add

pytestmark = pytest.mark.django_db


def _switch(client, account_id, next_url="/admin/agents/agent/"):
    return client.post(reverse("account-switch"), {"account": account_id, "next": next_url})


def test_superuser__picks_one_account_and_sees_only_its_objects(
    admin_client, account, agent, other_setup, other_account
):
    agents_url = reverse("admin:agents_agent_changelist")
    both = admin_client.get(agents_url).content.decode()
    for shown in (agent, other_setup["agent"]):  # both accounts' agents
        assert reverse("admin:agents_agent_change", args=[shown.pk]) in both
    assert 'id="account-switch"' in both
    response = _switch(admin_client, account.pk)
    assert response.status_code == 302
    assert response["Location"] == "/admin/agents/agent/"
    one = admin_client.get(agents_url).content.decode()
    assert reverse("admin:agents_agent_change", args=[agent.pk]) in one
    assert reverse("admin:agents_agent_change", args=[other_setup["agent"].pk]) not in one
    # the agent form's goal picker lists this account's goals only: no second g-purchase
    add = admin_client.get(reverse("admin:agents_agent_add")).content.decode()
    assert "Purchase (g-purchase)" in add
    assert "Other purchase" not in add
    overview = admin_client.get(reverse("admin:index")).content.decode()
    assert 'data-account="ac-acme"' in overview
    assert 'data-account="ac-other"' not in overview
    # another account's object is not shown while this one is picked
    other_agent = reverse("admin:agents_agent_change", args=[other_setup["agent"].pk])
    assert admin_client.get(other_agent).status_code in (302, 404)
    # "all my accounts" again
    _switch(admin_client, "")
    again = admin_client.get(agents_url).content.decode()
    assert reverse("admin:agents_agent_change", args=[other_setup["agent"].pk]) in again


def test_member_of_two_accounts__switches_between_them_only(
    staff_client, staff_user, account, agent, other_setup, other_account
):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="account-switch"' not in page  # one account: nothing to pick
    membership_add(account=other_account, user=staff_user)
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert 'id="account-switch"' in page
    _switch(staff_client, other_account.pk)
    listed = staff_client.get(reverse("admin:agents_agent_changelist")).content.decode()
    assert reverse("admin:agents_agent_change", args=[other_setup["agent"].pk]) in listed
    assert reverse("admin:agents_agent_change", args=[agent.pk]) not in listed


def test_an_account_not_ones_own__is_refused(staff_client, account, agent, other_account):
    response = _switch(staff_client, other_account.pk)
    assert response.status_code == 302
    assert "conductrics_account" not in staff_client.session
    # an outside address as next is not followed
    away = staff_client.post(
        reverse("account-switch"), {"account": "", "next": "https://evil.example/"}
    )
    assert away["Location"] == "/admin/"
