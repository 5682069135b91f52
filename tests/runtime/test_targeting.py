"""Targeting through the agent-api (SPEC §4b): inputs, ua and its traits, bots, eligibility,
rules, QA overrides, the evaluation order, goal and variation sources, and reports."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create, agent_update
from reports.selectors import agent_report
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FOO_IS_BAR = {
    "name": "foo is bar",
    "when": {"source": "input", "name": "foo", "op": "eq", "value": "bar"},
    "variation": "C",
}


def _example(account, targets, goals=(), **targeting):
    """The official clients' a-example: A, B, and C of weight 0."""
    return agent_create(
        account=account,
        code=targeting.pop("code", "a-example"),
        name="Example",
        status=targeting.pop("status", AgentStatus.RUNNING),
        variations=[VariationSpec("A"), VariationSpec("B"), VariationSpec("C", weight=0)],
        targets=targets,
        goals=list(goals),
        **targeting,
    )


def _body(commands, inputs=None):
    return {"commands": commands, **({"inputs": inputs} if inputs is not None else {})}


# --- the request: inputs, ua, traits --------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [
        [],
        {"k": 1},
        {"bad key": "x"},
        {"k": "x" * 257},
        {f"k{i}": "x" for i in range(51)},
    ],
)
def test_inputs__malformed__400_on_rest_ignored_with_a_warning_on_express(
    api, agent, express_target, rest_target, inputs
):
    response = api.call(rest_target, _body([{"a": "a-hero"}], inputs))
    assert response.status_code == 400
    assert "inputs" in response.json()["err"]
    assert not Assignment.objects.exists()
    data = api.data(express_target, _body([{"a": "a-hero"}], inputs))
    assert [w["reason"] for w in data["warnings"]] == ["inputs_invalid"]
    assert data["sels"]["a-hero"] in ("A", "B")


def test_inputs__are_never_stored(api, account, express_target):
    _example(account, [express_target], rules=[FOO_IS_BAR])
    api.data(express_target, _body([{"a": "a-example"}], {"foo": "bar", "secret": "s3cr3t"}))
    row = Assignment.objects.values().get()
    assert "s3cr3t" not in str(row)
    assert "bar" not in str(row["traits"])


def test_ua__derives_traits_listed_after_the_requests_own_with_the_clients_log_line(
    api, agent, express_target
):
    data = api.data(express_target, [{"a": "a-hero"}], traits="tier:gold", ua=IPHONE, debug="true")
    assert data["traits"] == ["cust/tier:gold", "ua/mo:y", "ua/br:safari", "ua/os:ios"]
    assert data["log"][:3] == [
        "Added trait 'ua/mo:y' (apply)",
        "Added trait 'ua/br:safari' (apply)",
        "Added trait 'ua/os:ios' (apply)",
    ]


def test_ua__magic_string__gives_mobile_no_and_a_random_policy(api, agent, express_target):
    # the official clients' UserAgentTest
    data = api.data(express_target, [{"a": "a-hero"}], ua="MAGIC STRING", debug="true")
    assert "Added trait 'ua/mo:n' (apply)" in data["log"]
    assert data["items"][0]["p"] == "r"


def test_ua__header_used_on_express_only(api, agent, express_target, rest_target):
    headers = {"User-Agent": IPHONE}
    express = api.data(express_target, [{"a": "a-hero"}], headers=headers)
    assert "ua/mo:y" in express["traits"]
    # a REST request's header describes the customer's server: never used (TraitsTest)
    rest = api.data(rest_target, [{"a": "a-hero"}], headers=headers, traits="tier:gold")
    assert rest["traits"] == ["cust/tier:gold"]


@pytest.mark.parametrize("ua", ["", "x" * 1025, "line\nbreak"])
def test_ua__malformed__400_on_rest_ignored_with_a_warning_on_express(
    api, agent, express_target, rest_target, ua
):
    assert api.call(rest_target, [{"a": "a-hero"}], ua=ua).status_code == 400
    data = api.data(express_target, [{"a": "a-hero"}], ua=ua)
    assert [w["reason"] for w in data["warnings"]] == ["ua_invalid"]
    assert not [t for t in data["traits"] if t.startswith("ua/")]


# --- bots -----------------------------------------------------------------------------------


def test_bot__gets_the_persons_variation_answered_b_and_nothing_is_recorded(
    api, agent, express_target, rest_target
):
    person = api.data(express_target, [{"a": "a-hero"}], session="s-bot-check", ua=IPHONE)
    Assignment.objects.all().delete()  # the person's visitor count stays in the report
    bot = api.data(express_target, [{"a": "a-hero"}], session="s-bot-check", ua=GOOGLEBOT)
    assert bot["items"][0]["c"] == person["items"][0]["c"]  # no cloaking
    assert bot["items"][0]["p"] == "b"
    goal = api.data(rest_target, [{"g": "g-purchase"}], session="s-bot-check", ua=GOOGLEBOT)
    assert goal["items"][0] == {"g": "g-purchase", "s": "none", "rs": [], "skipped": []}
    assert [w["reason"] for w in goal["warnings"]] == ["bot"]
    assert not Assignment.objects.exists()
    assert not GoalEvent.objects.exists()
    report = agent_report(agent=agent)
    assert sum(v["visitors"] for v in report["goals"][0]["variations"]) == 1  # the person


# --- rules, eligibility, QA -------------------------------------------------------------------


def test_rule__forces_a_zero_weight_variation_answered_f_and_logged(api, account, express_target):
    # the official clients' InputsTest
    _example(account, [express_target], rules=[FOO_IS_BAR])
    data = api.data(express_target, _body([{"a": "a-example"}], {"foo": "bar"}), debug="true")
    item = data["items"][0]
    assert (item["c"], item["p"], item["s"]) == ("C", "f", "ok")
    assert "a-example: rule 'foo is bar' matched (input foo = \"bar\"): C (p=f)" in data["log"]
    assert Assignment.objects.get().policy == "f"
    other = api.data(express_target, _body([{"a": "a-example"}], {"foo": "baz"}), session="s-2")
    assert other["items"][0]["c"] in ("A", "B")
    assert other["items"][0]["p"] == "r"


def test_rule__when_null_always_holds(api, account, express_target):
    # the official clients' ConditionsTest
    _example(
        account, [express_target], code="a-conditions",
        rules=[{"name": "everyone", "when": None, "variation": "C"}],
    )  # fmt: skip
    item = api.data(express_target, [{"a": "a-conditions"}])["items"][0]
    assert (item["c"], item["p"], item["s"]) == ("C", "f", "ok")


def test_rules__first_that_holds_wins_and_c_x_pass_a_rule_over(api, account, express_target):
    rules = [
        {"name": "gold gets B", "when": {"source": "input", "name": "plan", "op": "eq",
                                         "value": "gold"}, "variation": "B"},
        {"name": "everyone C", "when": None, "variation": "C"},
    ]  # fmt: skip
    _example(account, [express_target], rules=rules)
    gold = api.data(express_target, _body([{"a": "a-example"}], {"plan": "gold"}), session="g")
    assert gold["items"][0]["c"] == "B"
    assert api.data(express_target, [{"a": "a-example"}], session="n")["items"][0]["c"] == "C"
    # B excluded: the gold rule is passed over, the next one holds
    passed = api.data(
        express_target, _body([{"a": "a-example", "x": ["B"]}], {"plan": "gold"}), session="x"
    )
    assert passed["items"][0]["c"] == "C"
    # both rules' variations excluded: the weighted hash among what is left
    left = api.data(
        express_target, _body([{"a": "a-example", "c": ["A"]}], {"plan": "gold"}), session="y"
    )
    assert (left["items"][0]["c"], left["items"][0]["p"]) == ("A", "r")


def test_eligibility__not_met__no_selection_with_the_deciding_leaf(api, account, express_target):
    plan_gold = {"source": "input", "name": "plan", "op": "eq", "value": "gold"}
    _example(account, [express_target], code="a-promo", eligibility=plan_gold)
    data = api.data(express_target, [{"a": "a-promo"}], debug="true")
    assert data["items"] == []
    assert data["sels"] == {}
    assert data["warnings"][0]["reason"] == "not_eligible"
    assert "a-promo: not eligible: input plan absent" in data["log"]
    assert not Assignment.objects.exists()
    ok = api.data(express_target, _body([{"a": "a-promo"}], {"plan": "gold"}))
    assert ok["items"][0]["p"] == "r"


def test_eligibility__over_traits_random_and_target(api, account, express_target, rest_target):
    condition = {"all": [
        {"source": "trait", "name": "ua/mo", "op": "eq", "value": "y"},
        {"source": "random", "op": "lte", "value": 100},
        {"source": "target", "op": "eq", "value": "dt-web"},
    ]}  # fmt: skip
    _example(account, [express_target, rest_target], eligibility=condition)
    assert api.data(express_target, [{"a": "a-example"}], ua=IPHONE)["items"]
    assert not api.data(express_target, [{"a": "a-example"}], session="desk", ua="curl/8")["items"]
    assert not api.data(rest_target, [{"a": "a-example"}], session="r", ua=IPHONE)["items"]


def test_random__splits_visitors_by_its_own_hash(api, account, express_target):
    twenty = {"source": "random", "op": "lte", "value": 20}
    _example(account, [express_target], eligibility=twenty)
    served = sum(
        bool(api.data(express_target, [{"a": "a-example"}], session=f"r-{i}")["items"])
        for i in range(300)
    )
    assert 30 <= served <= 90  # 20% of 300, with room for chance


def test_existing_assignment__is_kept_rules_not_evaluated_again(api, account, express_target):
    agent = _example(account, [express_target])
    first = api.data(express_target, [{"a": "a-example"}])["items"][0]
    agent_update(agent=agent, rules=[{"name": "all C", "when": None, "variation": "C"}])
    again = api.data(express_target, [{"a": "a-example"}], debug="true")
    assert (again["items"][0]["c"], again["items"][0]["p"]) == (first["c"], "s")


def test_qa__applies_whatever_the_status_and_records_nothing(api, account, express_target):
    qa = [{"session": "qa-sess", "variation": "C"}, {"vid": "qa-vid", "variation": "B"}]
    agent = _example(account, [express_target], status=AgentStatus.STOPPED, qa=qa)
    for status in (AgentStatus.STOPPED, AgentStatus.PAUSED, AgentStatus.RUNNING):
        agent_update(agent=agent, status=status)
        item = api.data(express_target, [{"a": "a-example"}], session="qa-sess")["items"][0]
        assert (item["c"], item["p"], item["s"]) == ("C", "f", "ok")
        item = api.data(express_target, [{"a": "a-example"}], session="x", vid="qa-vid")["items"]
        assert item[0]["c"] == "B"
    assert not Assignment.objects.exists()
    # not QA: a stopped agent answers no selection
    agent_update(agent=agent, status=AgentStatus.STOPPED)
    assert api.data(express_target, [{"a": "a-example"}], session="other")["items"] == []


def test_qa__variation_excluded_by_c_x__no_selection(api, account, express_target):
    _example(account, [express_target], qa=[{"session": "qa", "variation": "C"}])
    data = api.data(express_target, [{"a": "a-example", "x": ["C"]}], session="qa")
    assert data["items"] == []
    assert data["warnings"][0]["reason"] == "no_eligible_variation"
    assert not Assignment.objects.exists()


# --- the sources that read the visitor's state -------------------------------------------------


def test_goal_source__a_goal_reached_server_side_targets_the_page(
    api, account, agent, express_target, rest_target, purchase_goal
):
    buyers = {"source": "goal", "name": "g-purchase", "op": "reached", "within_hours": 24}
    _example(account, [express_target], code="a-upsell", eligibility=buyers)
    # the page's first visit: no purchase yet
    assert not api.data(express_target, [{"a": "a-upsell"}], session="p1", vid="lana")["items"]
    api.data(express_target, [{"a": "a-hero"}], session="p1", vid="lana")
    api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv", vid="lana")
    # the next page view (another session, same vid): the server-side purchase counts
    data = api.data(express_target, [{"a": "a-upsell"}], session="p2", vid="lana", debug="true")
    assert data["items"][0]["p"] == "r"
    # another buyer, whose first visit comes 25 hours after the purchase: too late
    api.data(rest_target, [{"g": "g-purchase", "v": 5}], session="srv-2", vid="mara")
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        later = api.data(express_target, [{"a": "a-upsell"}], session="m1", vid="mara")
        assert later["warnings"][0]["reason"] == "not_eligible"
        assert later["warnings"][0]["detail"] == (
            "not eligible: goal g-purchase not reached within 24 h"
        )


def test_variation_source__reads_the_assignment_in_another_agent(
    api, account, agent, express_target
):
    saw_b = {"source": "variation", "name": "a-hero", "op": "eq", "value": "B"}
    _example(account, [express_target], rules=[{"name": "B seers", "when": saw_b,
                                                "variation": "C"}])  # fmt: skip
    # one request: the hero selection is made first, then read by the example's rule
    for i in range(40):
        data = api.data(express_target, [{"a": "a-hero"}, {"a": "a-example"}], session=f"v{i}")
        hero, example = data["sels"]["a-hero"], data["sels"]["a-example"]
        assert (example == "C") == (hero == "B")
        # and in a later request, from the one read
        again = api.data(express_target, [{"a": "a-example"}], session=f"v{i}-b",
                         vid=None)  # fmt: skip
        assert again["items"][0]["p"] in ("r", "f")


# --- reports ------------------------------------------------------------------------------------


def test_report__forced_assignments_are_fixed_not_in_the_statistics(
    api, account, express_target, rest_target, purchase_goal
):
    agent = _example(
        account, [express_target, rest_target], goals=[purchase_goal], rules=[FOO_IS_BAR]
    )
    api.data(express_target, _body([{"a": "a-example"}], {"foo": "bar"}), session="f", vid="f")
    api.data(rest_target, [{"g": "g-purchase", "v": 7}], session="f", vid="f")
    api.data(express_target, [{"a": "a-example"}], session="r", vid="r")
    api.data(rest_target, [{"g": "g-purchase", "v": 3}], session="r", vid="r")
    rows = {v["code"]: v for v in agent_report(agent=agent)["goals"][0]["variations"]}
    assert (rows["C"]["visitors"], rows["C"]["conversions"]) == (0, 0)
    assert rows["C"]["fixed"] == {"visitors": 1, "conversions": 1, "value_sum": 7.0}
    random_rows = [r for r in rows.values() if r["visitors"]]
    assert [(r["visitors"], r["conversions"], r["value_sum"]) for r in random_rows] == [(1, 1, 3.0)]
    assert random_rows[0]["fixed"] == {"visitors": 0, "conversions": 0, "value_sum": 0.0}
    assert Credit.objects.count() == 2


# --- mutually exclusive groups -----------------------------------------------------------------


def _group_of_two(account, express_target, rest_target=None):
    from agents.services import MemberSpec, group_create

    targets = [express_target] + ([rest_target] if rest_target else [])
    home = _example(account, targets, code="a-home")
    banner = _example(account, targets, code="a-banner")
    group_create(
        account=account, code="mx-home", name="Home page",
        members=[MemberSpec(home, 1), MemberSpec(banner, 1)],
    )  # fmt: skip
    return home, banner


def test_group__a_visitor_gets_selections_from_its_slots_agent_only(api, account, express_target):
    _group_of_two(account, express_target)
    slots = {"a-home": 0, "a-banner": 0}
    for i in range(200):
        data = api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}], session=f"g{i}")
        assert len(data["sels"]) == 1  # never both
        slots[next(iter(data["sels"]))] += 1
        other = ({"a-home", "a-banner"} - set(data["sels"])).pop()
        assert data["warnings"] == [
            {"reason": "other_agent_in_group", "a": other,
             "detail": f"group mx-home slots {next(iter(data['sels']))}"},
        ]  # fmt: skip
    assert 70 <= slots["a-home"] <= 130  # weights 1:1


def test_group__log_line_names_the_group_and_the_slot(api, account, express_target):
    _group_of_two(account, express_target)
    for i in range(20):
        data = api.data(express_target, [{"a": "a-home"}], session=f"l{i}", debug="true")
        if not data["items"]:
            assert data["log"] == ["a-home: group mx-home slots a-banner"]
            return
    pytest.fail("no visitor of 20 was slotted to a-banner")


def test_group__slots_stay_put_when_a_member_stops(api, account, express_target):
    home, banner = _group_of_two(account, express_target)
    before = {
        i: next(iter(api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}],
                              session=f"s{i}")["sels"]))
        for i in range(40)
    }  # fmt: skip
    agent_update(agent=banner, status=AgentStatus.STOPPED)
    assert set(before.values()) == {"a-home", "a-banner"}
    for i, slot in before.items():
        again = api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}], session=f"s{i}")
        # a visitor slotted to the stopped agent still gets nothing from the other
        assert list(again["sels"]) == (["a-home"] if slot == "a-home" else [])


def test_group__assignment_made_before_joining_is_kept(api, account, express_target):
    from agents.services import MemberSpec, group_create

    home = _example(account, [express_target], code="a-home")
    banner = _example(account, [express_target], code="a-banner")
    sessions = [f"early-{i}" for i in range(30)]
    for s in sessions:
        api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}], session=s)
    group_create(
        account=account, code="mx-home", name="Home",
        members=[MemberSpec(home, 1), MemberSpec(banner, 1)],
    )  # fmt: skip
    for s in sessions:
        data = api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}], session=s)
        assert set(data["sels"]) == {"a-home", "a-banner"}
        assert {i["p"] for i in data["items"]} == {"s"}


def test_group__qa_override_comes_first(api, account, express_target):
    home, banner = _group_of_two(account, express_target)
    agent_update(agent=home, qa=[{"session": "qa", "variation": "C"}])
    agent_update(agent=banner, qa=[{"session": "qa", "variation": "A"}])
    data = api.data(express_target, [{"a": "a-home"}, {"a": "a-banner"}], session="qa")
    assert data["sels"] == {"a-home": "C", "a-banner": "A"}


# --- goal conditions ---------------------------------------------------------------------------


def test_goal_condition__on_what_the_visitor_saw_client_side(
    api, account, agent, express_target, rest_target, purchase_goal
):
    from goals.services import goal_update

    saw_b = {"source": "variation", "name": "a-hero", "op": "eq", "value": "B"}
    goal_update(goal=purchase_goal, when=saw_b)
    seen = {}
    for i in range(12):
        vid = f"buyer-{i}"
        seen[vid] = api.data(express_target, [{"a": "a-hero"}], session=f"p{i}", vid=vid)["sels"][
            "a-hero"
        ]
        goal = api.data(rest_target, [{"g": "g-purchase", "v": 2}], session=vid, vid=vid)
        item = goal["items"][0]
        if seen[vid] == "B":
            assert item["s"] == "ok"
        else:
            assert item["s"] == "none"
            assert item["skipped"] == [
                {"a": "a-hero", "c": seen[vid], "reason": "goal_condition_false"}
            ]
    assert {"A", "B"} <= set(seen.values())
    assert GoalEvent.objects.count() == 12  # received, credited or not


def test_goal_condition__over_inputs_and_target(
    api, agent, express_target, rest_target, purchase_goal
):
    from goals.services import goal_update

    goal_update(goal=purchase_goal, when={"all": [
        {"source": "input", "name": "currency", "op": "eq", "value": "EUR"},
        {"source": "target", "op": "eq", "value": "dt-server"},
    ]})  # fmt: skip
    api.data(express_target, [{"a": "a-hero"}], session="s", vid="eur")
    usd = api.data(rest_target, _body([{"g": "g-purchase"}], {"currency": "USD"}), vid="eur")
    assert usd["items"][0]["skipped"][0]["reason"] == "goal_condition_false"
    eur = api.data(rest_target, _body([{"g": "g-purchase"}], {"currency": "EUR"}), vid="eur")
    assert eur["items"][0]["s"] == "ok"


def test_goal_condition__random_is_refused_for_goals(purchase_goal):
    from django.core.exceptions import ValidationError

    from goals.services import goal_update

    with pytest.raises(ValidationError, match="source random cannot be used here"):
        goal_update(goal=purchase_goal, when={"source": "random", "op": "lte", "value": 5})


# --- explain -------------------------------------------------------------------------------------


def test_explain__answers_the_decision_and_its_log_and_records_nothing(
    client, account, express_target
):
    from accounts.services import admin_key_create

    _example(account, [express_target], rules=[FOO_IS_BAR])
    _, key = admin_key_create(account=account)
    body = {"target": "dt-web", "session": "s-x", "inputs": {"foo": "bar"}, "ua": IPHONE,
            "traits": "tier:gold"}  # fmt: skip
    response = client.post(
        "/api/ac-acme/agents/a-example/explain/", body, content_type="application/json",
        headers={"authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["selection"] == {"a": "a-example", "c": "C", "p": "f", "s": "ok", "md": {}}
    assert answer["log"][-1] == (
        "a-example: rule 'foo is bar' matched (input foo = \"bar\"): C (p=f)"
    )
    assert "Added trait 'ua/mo:y' (apply)" in answer["log"]
    assert answer["traits"][0] == "cust/tier:gold"
    assert not Assignment.objects.exists()
    bad = client.post(
        "/api/ac-acme/agents/a-example/explain/", {**body, "inputs": {"bad key": "x"}},
        content_type="application/json", headers={"authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "inputs" in bad.json()


def test_results_page__lists_forced_assignments_apart(
    api, admin_client, account, express_target, purchase_goal
):
    from django.urls import reverse

    agent = _example(account, [express_target], goals=[purchase_goal], rules=[FOO_IS_BAR])
    api.data(express_target, _body([{"a": "a-example"}], {"foo": "bar"}), session="f1")
    api.data(express_target, _body([{"a": "a-example"}], {"foo": "bar"}), session="f2")
    html = admin_client.get(reverse("admin:agents_agent_results", args=[agent.pk])).content
    assert "Forced by rules (targeted selections), outside every figure above:" in html.decode()
    assert "C: 2 visitors, 0 conversions, value 0.00." in html.decode()
