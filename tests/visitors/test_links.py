"""One person, several ids (SPEC §4d): the alias command, matching and selections through
links, conflicts, refusals, batches and imports, erasure and retention."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.services import admin_key_create
from agents.bucketing import bucket_point
from goals.models import GoalCounting
from reports.models import LinkConflict
from targets.models import ALLOW_LINKING_LABEL
from visitors.links import ALIAS_LIMIT
from visitors.models import Assignment, GoalEvent, VisitorLink

pytestmark = pytest.mark.django_db


def _alias(api, target, vid, alias, **kwargs):
    """The alias item of a request that links `alias` to `vid`."""
    data = api.data(target, [{"alias": alias}], session=f"s-{vid}", vid=vid, **kwargs)
    (item,) = data["items"]
    return item


def _shown(api, express_target, vid, session=None):
    data = api.data(express_target, [{"a": "a-hero"}], session=session or f"s-{vid}", vid=vid)
    return data["items"][0]


def test_alias__goal_sent_with_the_other_id__credits_the_variation_the_page_showed(
    api, agent, express_target, rest_target
):
    shown = _shown(api, express_target, "cookie-1")
    assert _alias(api, rest_target, "cookie-1", "cust-77") == {"alias": "cust-77", "s": "ok"}
    goal = api.data(rest_target, [{"g": "g-purchase", "v": 19.99}], session="x", vid="cust-77")
    assert goal["items"][0]["s"] == "ok"
    assert goal["items"][0]["rs"] == [{"a": "a-hero", "c": shown["c"], "v": 19.99}]


def test_alias__without_the_link_the_same_goal_finds_nothing(
    api, agent, express_target, rest_target
):
    _shown(api, express_target, "cookie-1")
    goal = api.data(rest_target, [{"g": "g-purchase"}], session="x", vid="cust-77")
    assert goal["items"][0]["s"] == "none"
    assert goal["items"][0]["skipped"] == []


def test_alias__selection_under_the_other_id__answers_the_persons_variation_sticky(
    api, agent, express_target, rest_target
):
    shown = _shown(api, express_target, "cookie-1")
    _alias(api, rest_target, "cookie-1", "cust-77")
    before = Assignment.objects.count()
    again = _shown(api, express_target, "cust-77", session="another-device")
    assert (again["c"], again["p"], again["s"]) == (shown["c"], "s", "ok")
    assert Assignment.objects.count() == before  # nothing new recorded


def test_alias__works_either_way_round(api, agent, express_target, rest_target):
    shown = _shown(api, express_target, "cookie-1")
    assert _alias(api, rest_target, "cust-77", "cookie-1")["s"] == "ok"
    goal = api.data(rest_target, [{"g": "g-purchase"}], session="x", vid="cust-77")
    assert goal["items"][0]["rs"][0]["c"] == shown["c"]


def test_alias__made_first_in_its_request__whatever_its_place(
    api, agent, express_target, rest_target
):
    express_target.allow_linking = True
    express_target.save()
    shown = _shown(api, express_target, "cookie-1")
    data = api.data(
        express_target, [{"a": "a-hero"}, {"alias": "cookie-1"}], session="new-tab", vid="cust-9"
    )
    assert data["items"][1] == {"alias": "cookie-1", "s": "ok"}
    assert (data["items"][0]["c"], data["items"][0]["p"]) == (shown["c"], "s")
    assert Assignment.objects.filter(vid="cust-9").count() == 0


def test_alias__again__is_none_and_changes_nothing(api, agent, rest_target):
    _alias(api, rest_target, "cookie-1", "cust-77")
    assert _alias(api, rest_target, "cust-77", "cookie-1") == {"alias": "cookie-1", "s": "none"}
    assert VisitorLink.objects.count() == 2


@pytest.mark.parametrize(
    ("vid", "alias", "words"),
    [
        ("cookie-1", "cookie-1", "the vid itself"),
        ("cookie-1", "null", "placeholder"),
        ("cookie-1", "", "empty"),
        ("cookie-1", "x" * 129, "longer than 128"),
        ("cookie-1", "tab\there", "control characters"),
        (None, "cust-1", "pass one"),
    ],
)
def test_alias__invalid__is_alias_invalid_and_links_nothing(
    api, agent, rest_target, vid, alias, words
):
    data = api.data(rest_target, [{"alias": alias}], session="s1", vid=vid)
    (item,) = data["items"]
    assert (item["s"], item["err"]) == ("err", "alias_invalid")
    assert words in item["detail"]
    assert data["warnings"][0]["reason"] == "alias_invalid"
    assert VisitorLink.objects.count() == 0


@pytest.mark.parametrize("alias", [5, None, ["x"], {"id": "x"}, True])
def test_alias__not_a_string__is_400_and_records_nothing(api, agent, rest_target, alias):
    response = api.call(
        rest_target, [{"alias": alias}, {"g": "g-purchase"}], session="s1", vid="cookie-1"
    )
    assert response.status_code == 400
    assert '"alias"' in response.json()["err"]
    assert (VisitorLink.objects.count(), GoalEvent.objects.count()) == (0, 0)


def test_alias__with_a_selection_or_goal_key__is_400(api, agent, rest_target):
    response = api.call(rest_target, [{"alias": "y", "g": "g-purchase"}], vid="cookie-1")
    assert response.status_code == 400
    assert "one of them" in response.json()["err"]


def test_alias__express_target_without_the_option__cannot_link(api, agent, express_target):
    """A page's public key cannot tie its visitor to another person's id."""
    item = _alias(api, express_target, "attacker", "victim-customer-no")
    assert (item["s"], item["err"]) == ("err", "alias_invalid")
    assert ALLOW_LINKING_LABEL in item["detail"]
    assert VisitorLink.objects.count() == 0


def test_alias__express_target_with_the_option__links(api, agent, express_target):
    express_target.allow_linking = True
    express_target.save()
    assert _alias(api, express_target, "cookie-1", "cust-77")["s"] == "ok"


def test_alias__id_of_another_person__is_alias_taken(api, agent, rest_target):
    _alias(api, rest_target, "cookie-1", "cust-1")
    _alias(api, rest_target, "cookie-2", "cust-2")
    item = _alias(api, rest_target, "cookie-1", "cust-2")
    assert (item["s"], item["err"]) == ("err", "alias_taken")
    assert VisitorLink.objects.count() == 4


def test_alias__a_new_device_joins_the_person(api, agent, express_target, rest_target):
    """A returning customer on a fresh cookie: the cookie joins the customer's person."""
    shown = _shown(api, express_target, "cookie-1")
    _alias(api, rest_target, "cookie-1", "cust-1")
    assert _alias(api, rest_target, "cookie-2", "cust-1")["s"] == "ok"
    again = _shown(api, express_target, "cookie-2")
    assert (again["c"], again["p"]) == (shown["c"], "s")


def test_alias__more_than_the_limit__is_alias_limit(api, agent, rest_target):
    for n in range(ALIAS_LIMIT - 1):
        assert _alias(api, rest_target, "cust-1", f"cookie-{n}")["s"] == "ok"
    item = _alias(api, rest_target, "cust-1", "one-too-many")
    assert (item["s"], item["err"]) == ("err", "alias_limit")
    assert VisitorLink.objects.count() == ALIAS_LIMIT


def test_alias__bot__links_nothing(api, agent, express_target):
    express_target.allow_linking = True
    express_target.save()
    data = api.data(
        express_target, [{"alias": "cust-1"}], vid="cookie-1",
        headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"},
    )  # fmt: skip
    assert data["items"][0]["s"] == "none"
    assert VisitorLink.objects.count() == 0


def _other_side(first: str) -> str:
    """A customer id that a-hero's equal weights assign the other variation than `first`."""

    def side(vid):
        return bucket_point(agent_code="a-hero", identity=f"v:{vid}") < 0.5

    return next(f"cust-{n}" for n in range(1, 100) if side(f"cust-{n}") != side(first))


CUSTOMER = _other_side("cookie-1")  # shown the other variation than cookie-1


def _two_assignments(api, express_target):
    """cookie-1 assigned first, then CUSTOMER (on another device, shown the other
    variation): both hold one."""
    start = timezone.now()
    with time_machine.travel(start - timedelta(hours=2), tick=False):
        first = _shown(api, express_target, "cookie-1")
    with time_machine.travel(start - timedelta(hours=1), tick=False):
        second = _shown(api, express_target, CUSTOMER)
    assert first["c"] != second["c"]
    return first, second


def test_alias__both_held_assignments__earliest_kept_and_credited_later_one_a_conflict(
    api, agent, express_target, rest_target
):
    first, second = _two_assignments(api, express_target)
    _alias(api, rest_target, CUSTOMER, "cookie-1")
    assert Assignment.objects.count() == 2  # nothing moved
    (conflict,) = LinkConflict.objects.all()
    assert (conflict.variation.code, conflict.conflicts) == (second["c"], 1)
    goal = api.data(rest_target, [{"g": "g-purchase"}], session="x", vid=CUSTOMER)
    assert goal["items"][0]["rs"] == [{"a": "a-hero", "c": first["c"], "v": 1.0}]
    again = _shown(api, express_target, CUSTOMER, session="third-device")
    # the person's earliest is the one answered, even to the id that holds the later one
    assert (again["c"], again["p"]) == (first["c"], "s")


def test_alias__conflict_counted_once_however_often_the_link_is_sent(
    api, agent, express_target, rest_target
):
    _two_assignments(api, express_target)
    for _ in range(3):
        _alias(api, rest_target, CUSTOMER, "cookie-1")
    assert sum(LinkConflict.objects.values_list("conflicts", flat=True)) == 1


def test_alias__goal_counted_once__is_once_for_the_person(
    api, agent, purchase_goal, express_target, rest_target
):
    purchase_goal.counting = GoalCounting.ONCE
    purchase_goal.save()
    _shown(api, express_target, "cookie-1")
    _alias(api, rest_target, "cookie-1", "cust-1")
    one = api.data(rest_target, [{"g": "g-purchase"}], session="a", vid="cookie-1")
    two = api.data(rest_target, [{"g": "g-purchase"}], session="b", vid="cust-1")
    assert one["items"][0]["s"] == "ok"
    assert two["items"][0]["skipped"][0]["reason"] == "already_credited"


def _batch(client, target, events):
    return client.post(
        f"/ac-acme/v3/goal-events?apikey={target.api_key}",
        data={"events": events},
        content_type="application/json",
    )


def test_batch__alias_key__links_before_its_goal_is_judged(
    client, api, agent, express_target, rest_target
):
    shown = _shown(api, express_target, "cookie-1")
    response = _batch(client, rest_target, [
        {"vid": "cust-1", "alias": "cookie-1", "g": "g-purchase", "v": 5, "id": "o-1"},
        {"vid": "cust-1", "alias": "cust-1", "g": "g-purchase", "v": 6, "id": "o-2"},
    ])  # fmt: skip
    assert response.status_code == 200, response.content
    ok, invalid = response.json()["data"]["items"]
    assert ok["link"] == {"alias": "cookie-1", "s": "ok"}
    assert ok["rs"] == [{"a": "a-hero", "c": shown["c"], "v": 5.0}]
    # its alias refused, its goal is still judged (the person found through the first link)
    assert invalid["link"]["err"] == "alias_invalid"
    assert invalid["skipped"] == [{"a": "a-hero", "c": shown["c"], "reason": "already_credited"}]


def test_batch__alias_not_a_string__is_the_events_invalid_event(client, agent, rest_target):
    response = _batch(client, rest_target, [{"vid": "cust-1", "alias": 7, "g": "g-purchase"}])
    (item,) = response.json()["data"]["items"]
    assert (item["err"], VisitorLink.objects.count()) == ("invalid_event", 0)
    assert '"alias"' in item["detail"]


def test_import__alias_column__links_and_credits(api, agent, express_target, rest_target, tmp_path):
    shown = _shown(api, express_target, "cookie-1")
    path = tmp_path / "orders.csv"
    path.write_text(
        "vid,alias,g,v,id\ncust-1,cookie-1,g-purchase,12,o-1\ncust-2,null,g-purchase,3,o-2\n"
    )
    report = tmp_path / "report.csv"
    call_command(
        "import_goals", str(path), account="ac-acme", target="dt-server", report=str(report),
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    lines = report.read_text().splitlines()
    assert f"a-hero/{shown['c']}" in lines[1]
    assert "alias_invalid" in lines[2]
    assert VisitorLink.objects.count() == 2


def test_import__dry_run_with_aliases__records_no_link(api, agent, express_target, tmp_path):
    _shown(api, express_target, "cookie-1")
    path = tmp_path / "orders.csv"
    path.write_text("vid,alias,g,v\ncust-1,cookie-1,g-purchase,12\n")
    out = io.StringIO()
    call_command(
        "import_goals", str(path), account="ac-acme", target="dt-server", dry_run=True,
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    assert "ok" in out.getvalue()
    assert (VisitorLink.objects.count(), GoalEvent.objects.count()) == (0, 0)


def test_erase__any_id_of_the_person__erases_every_linked_id_and_its_data(
    api, agent, express_target, rest_target
):
    _shown(api, express_target, "cookie-1")
    _shown(api, express_target, "stranger")
    _alias(api, rest_target, "cookie-1", "cust-1")
    api.data(rest_target, [{"g": "g-purchase"}], session="srv", vid="cust-1")
    _, key = admin_key_create(account=agent.account)
    response = Client().delete(
        "/api/ac-acme/visitors/cust-1", headers={"x-conductrics-apikey": key}
    )
    assert response.status_code == 200, response.content
    assert response.json()["links"] == 2
    assert VisitorLink.objects.count() == 0
    assert list(Assignment.objects.values_list("vid", flat=True)) == ["stranger"]
    assert GoalEvent.objects.count() == 0


def test_purge__a_person_whose_links_are_all_older_than_retention__goes(api, agent, rest_target):
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        _alias(api, rest_target, "old-cookie", "old-cust")
        _alias(api, rest_target, "cookie-1", "cust-1")
    with time_machine.travel(start - timedelta(days=1), tick=False):
        _alias(api, rest_target, "cust-1", "cookie-9")  # cust-1's person linked lately
    out = io.StringIO()
    call_command("purge_events", stdout=out)
    kept = set(VisitorLink.objects.values_list("vid", flat=True))
    assert kept == {"cookie-1", "cust-1", "cookie-9"}  # a person's links go together
    assert "2 linked ids" in out.getvalue()


def test_purged_id_coming_back__is_a_new_person(api, agent, rest_target):
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        _alias(api, rest_target, "cookie-1", "cust-1")
    call_command("purge_events", stdout=io.StringIO())
    assert _alias(api, rest_target, "cookie-1", "cust-5")["s"] == "ok"
    person = VisitorLink.objects.get(vid="cookie-1").person
    assert set(VisitorLink.objects.filter(person=person).values_list("vid", flat=True)) == {
        "cookie-1",
        "cust-5",
    }


def test_report__conflicts_per_variation(client, api, agent, express_target, rest_target):
    _, second = _two_assignments(api, express_target)
    _alias(api, rest_target, CUSTOMER, "cookie-1")
    _, key = admin_key_create(account=agent.account)
    since = (timezone.now() - timedelta(days=2)).date()  # the assignments: hours ago
    report = client.get(
        f"/api/ac-acme/agents/a-hero/report?from={since}", headers={"x-conductrics-apikey": key}
    ).json()
    rows = {v["code"]: v for v in report["goals"][0]["variations"]}
    assert {code: row["conflicts"] for code, row in rows.items()} == {
        "A": int(second["c"] == "A"),
        "B": int(second["c"] == "B"),
    }
    assert sum(row["visitors"] for row in rows.values()) == 2  # both stay counted
    csv = client.get(
        "/api/ac-acme/agents/a-hero/report.csv", headers={"x-conductrics-apikey": key}
    ).content.decode()
    assert "conflicts" in csv.splitlines()[0].split(",")


def test_option__management_api_sets_it_and_the_audit_log_names_its_label(
    admin_api, admin_client, api, agent, express_target
):
    from auditlog.models import LogEntry
    from django.urls import reverse

    assert admin_api("get", "targets/dt-web/").json()["allow_linking"] is False
    patched = admin_api("patch", "targets/dt-web/", {"allow_linking": True})
    assert patched.status_code == 200, patched.content
    assert patched.json()["allow_linking"] is True
    assert _alias(api, express_target, "cookie-1", "cust-1")["s"] == "ok"  # served at once
    entry = LogEntry.objects.get_for_object(express_target).latest("timestamp")
    assert entry.changes_dict["allow_linking"] == ["False", "True"]
    page = admin_client.get(
        reverse("admin:targets_deploytarget_change", args=[express_target.pk])
    ).content.decode()
    assert f"<strong>{ALLOW_LINKING_LABEL}</strong>: False → True" in page


def test_option__admin_data_passing_shows_it(admin_client, express_target):
    from django.urls import reverse

    html = admin_client.get(
        reverse("admin:targets_deploytarget_change", args=[express_target.pk])
    ).content.decode()
    assert ALLOW_LINKING_LABEL in html
    assert 'name="allow_linking"' in html


def test_results_page__names_the_conflicts(admin_client, api, agent, express_target, rest_target):
    from django.urls import reverse

    _, second = _two_assignments(api, express_target)
    _alias(api, rest_target, CUSTOMER, "cookie-1")
    html = admin_client.get(reverse("admin:agents_agent_results", args=[agent.pk])).content.decode()
    note = html.split('class="conflicts-note"')[1].split("</p>")[0]
    assert f"{second['c']}: 1" in note


def test_explain__names_the_linked_id_the_assignment_was_found_by(
    admin_api, api, agent, express_target, rest_target
):
    _shown(api, express_target, "cookie-1")
    _alias(api, rest_target, "cookie-1", "cust-1")
    response = admin_api(
        "post", "goals/g-purchase/explain", {"target": "dt-server", "session": "x", "vid": "cust-1"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert any("by linked id cookie-1" in line for line in body["log"]), body["log"]


def test_goal_condition__reads_the_persons_events_of_that_goal_only(
    api, agent, purchase_goal, express_target, rest_target
):
    """A condition on a goal reached counts the goal's events sent under any id of the
    person, and no other goal's."""
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.services import goal_create

    goal_create(account=agent.account, code="g-other", name="Other", trigger="api", rest_send=True)
    bought = {"source": "goal", "name": "g-purchase", "op": "reached"}
    agent_create(
        account=agent.account, code="a-after", name="After", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[purchase_goal],
        targets=[express_target], eligibility=bought,
    )  # fmt: skip
    _alias(api, rest_target, "cookie-1", "cust-1")
    api.data(rest_target, [{"g": "g-other"}], session="srv", vid="cust-1")

    def selected():
        data = api.data(express_target, [{"a": "a-after"}], session="page", vid="cookie-1")
        return bool(data["items"])

    assert not selected()  # another goal's event: not g-purchase reached
    api.data(rest_target, [{"g": "g-purchase"}], session="srv", vid="cust-1")
    assert selected()  # g-purchase sent under the linked id: reached
