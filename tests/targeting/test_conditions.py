"""The condition language of SPEC §4b, as pure functions: every operator and source, absent
values, numbers, validation with the path of the fault, explanations and words."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targeting.conditions import (
    DEPTH_MAX,
    LEAVES_MAX,
    OPERATORS,
    SOURCES,
    ConditionError,
    Facts,
    condition_check,
    condition_describe,
    condition_explain,
    condition_holds,
    names_used,
    sources_used,
)

pytestmark = pytest.mark.db_independent  # pure rules: the SQLite run checks them

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def facts(**kw):
    base = {
        "target": "dt-web",
        "now": NOW,
        "random": lambda agent: 17,
        "inputs": {"plan": "gold", "n": "12.5", "word": "Hello World", "bad": "12abc"},
        "traits": {"cust/tier": "gold", "ua/mo": "y"},
        "goals": {"g-buy": NOW - timedelta(hours=5)},
        "variations": {"a-other": "B"},
    }
    base.update(kw)
    return Facts(**base)


def leaf(source, op, name=None, **kw):
    node = {"source": source, "op": op, **kw}
    if name is not None:
        node["name"] = name
    return node


def holds(condition, **kw):
    condition_check(condition, path="c")  # every case here is a valid condition
    return condition_holds(condition, facts(**kw), "a-hero")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (leaf("input", "eq", "plan", value="gold"), True),
        (leaf("input", "eq", "plan", value="Gold"), False),
        (leaf("input", "eq", "plan", value="GOLD", ci=True), True),
        (leaf("input", "ne", "plan", value="silver"), True),
        (leaf("input", "ne", "plan", value="gold"), False),
        (leaf("input", "in", "plan", values=["silver", "gold"]), True),
        (leaf("input", "in", "plan", values=["GOLD"], ci=True), True),
        (leaf("input", "not_in", "plan", values=["silver"]), True),
        (leaf("input", "not_in", "plan", values=["gold"]), False),
        (leaf("input", "contains", "word", value="lo Wo"), True),
        (leaf("input", "contains", "word", value="WORLD"), False),
        (leaf("input", "contains", "word", value="WORLD", ci=True), True),
        (leaf("input", "starts_with", "word", value="Hell"), True),
        (leaf("input", "ends_with", "word", value="World"), True),
        (leaf("input", "ends_with", "word", value="Hello"), False),
        (leaf("input", "lt", "n", value=13), True),
        (leaf("input", "lt", "n", value="12.5"), False),
        (leaf("input", "lte", "n", value="12.5"), True),
        (leaf("input", "gt", "n", value=12), True),
        (leaf("input", "gte", "n", value=12.5), True),
        (leaf("input", "gte", "n", value=-1), True),
        # a visitor's value that is not a number makes a numeric leaf false, both ways
        (leaf("input", "lt", "bad", value=100), False),
        (leaf("input", "gte", "bad", value=0), False),
        (leaf("input", "lt", "word", value=0), False),
        (leaf("input", "set", "plan"), True),
        (leaf("input", "not_set", "plan"), False),
        (leaf("trait", "eq", "cust/tier", value="gold"), True),
        (leaf("trait", "eq", "ua/mo", value="y"), True),
        (leaf("random", "lte", value=17), True),
        (leaf("random", "lte", value=16), False),
        (leaf("random", "eq", value="17"), True),
        (leaf("target", "eq", value="dt-web"), True),
        (leaf("target", "in", values=["dt-app", "dt-server"]), False),
        (leaf("goal", "reached", "g-buy"), True),
        (leaf("goal", "reached", "g-buy", within_hours=6), True),
        (leaf("goal", "reached", "g-buy", within_hours=4), False),
        (leaf("goal", "not_reached", "g-buy", within_hours=4), True),
        (leaf("goal", "not_reached", "g-buy"), False),
        (leaf("variation", "eq", "a-other", value="B"), True),
        (leaf("variation", "in", "a-other", values=["A", "C"]), False),
    ],
)
def test_leaf__every_operator_and_source(condition, expected):
    assert holds(condition) is expected


@pytest.mark.parametrize(
    "op", ["eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "lt", "gte", "set"]
)
def test_leaf__absent_value__is_false(op):
    node = leaf("input", op, "missing")
    if op in ("in", "not_in"):
        node["values"] = ["x"]
    elif op != "set":
        node["value"] = "1"
    assert holds(node) is False


@pytest.mark.parametrize(
    "node",
    [
        leaf("input", "not_set", "missing"),
        leaf("trait", "not_set", "cust/size"),
        leaf("goal", "not_reached", "g-never"),
        leaf("variation", "not_set", "a-unknown"),
    ],
)
def test_leaf__absent_value__holds_for_not_set_and_not_reached(node):
    assert holds(node) is True


def test_all_any_not():
    gold = leaf("input", "eq", "plan", value="gold")
    silver = leaf("input", "eq", "plan", value="silver")
    assert holds({"all": [gold, leaf("random", "lte", value=20)]})
    assert not holds({"all": [gold, silver]})
    assert holds({"any": [silver, gold]})
    assert not holds({"any": [silver, silver]})
    assert holds({"not": silver})
    assert not holds({"not": {"any": [gold, silver]}})


def test_random__is_read_for_the_agent_asked():
    seen = []
    condition = leaf("random", "lte", value=50)
    condition_holds(condition, facts(random=lambda agent: seen.append(agent) or 1), "a-x")
    assert seen == ["a-x"]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ([], 'c: a condition is an object'),
        ({"all": []}, "c.all: a non-empty list"),
        ({"all": [leaf("input", "set", "a")], "any": []}, 'c.any: unexpected beside "all"'),
        ({"all": [{"source": "input", "name": "a", "op": "equals", "value": "x"}]},
         'c.all[0].op: unknown operator "equals"'),
        ({"any": [leaf("input", "set", "a"), {"op": "set"}]}, 'c.any[1]: a leaf needs "source"'),
        (leaf("cookie", "set", "a"), 'c.source: unknown source "cookie"'),
        (leaf("input", "set"), "c.name: input needs a name"),
        (leaf("input", "set", "bad key!"), "c.name: input needs a name"),
        (leaf("trait", "set", "tier"), 'c.name: trait needs a name: a trait group such as'),
        (leaf("goal", "reached", "purchase"), "c.name: goal needs a name"),
        (leaf("variation", "set", "hero"), "c.name: variation needs a name"),
        (leaf("random", "lte", "x", value=1), "c.name: source random takes no name"),
        (leaf("goal", "eq", "g-buy", value="x"), "c.op: source goal takes reached"),
        (leaf("input", "reached", "a"), "c.op: reached is for source goal only"),
        (leaf("input", "eq", "a"), "c.value: eq needs a value"),
        (leaf("input", "eq", "a", value=5), "c.value: a string"),
        (leaf("input", "eq", "a", value="x" * 257), "c.value: at most 256"),
        (leaf("input", "eq", "a", value="\x00"), "c.value: valid Unicode"),
        (leaf("input", "in", "a", value="x"), 'c.value: in takes "values"'),
        (leaf("input", "in", "a", values=[]), "c.values: a list of 1 to 100"),
        (leaf("input", "in", "a", values=["x", 1]), "c.values[1]: a string"),
        (leaf("input", "eq", "a", value="x", values=["x"]), 'c.values: only in and not_in'),
        (leaf("input", "lt", "a", value="ten"), "c.value: lt compares numbers"),
        (leaf("input", "lt", "a", value=True), "c.value: lt compares numbers"),
        (leaf("input", "lt", "a", value=float("nan")), "c.value: lt compares numbers"),
        (leaf("input", "lt", "a", value="1e5"), "c.value: lt compares numbers"),
        (leaf("input", "set", "a", value="x"), "c.value: set takes no value"),
        (leaf("input", "eq", "a", value="x", ci="yes"), "c.ci: true or false"),
        (leaf("input", "lt", "a", value=1, ci=True), "c.ci: true or false"),
        (leaf("input", "set", "a", within_hours=3), "c.within_hours"),
        (leaf("goal", "reached", "g-buy", within_hours=0), "c.within_hours"),
        (leaf("goal", "reached", "g-buy", within_hours=2.5), "c.within_hours"),
        ({**leaf("input", "set", "a"), "colour": 1}, "c.colour: unknown key"),
    ],
)  # fmt: skip
def test_check__refuses_with_the_path_of_the_fault(condition, message):
    with pytest.raises(ConditionError) as caught:
        condition_check(condition, path="c")
    assert message in str(caught.value)


def test_check__depth_and_leaves():
    node = leaf("input", "set", "a")
    for _ in range(DEPTH_MAX - 1):
        node = {"not": node}
    assert condition_check(node, path="c") == 1
    with pytest.raises(ConditionError, match="nest at most 5"):
        condition_check({"not": node}, path="c")
    assert condition_check({"all": [leaf("input", "set", "a")] * 3}, path="c") == 3
    assert condition_check(None, path="c") == 0


def test_check__sources_allowed_here():
    with pytest.raises(ConditionError, match="source random cannot be used here"):
        condition_check(leaf("random", "lte", value=5), path="when", sources=("input",))


def test_explain__names_the_leaf_that_decided():
    f = facts()
    foo = leaf("input", "eq", "foo", value="bar")
    assert condition_explain(foo, facts(inputs={"foo": "bar"}), "a") == (True, 'input foo = "bar"')
    assert condition_explain(leaf("input", "eq", "plan", value="x"), facts(inputs={}), "a") == (
        False, "input plan absent",
    )  # fmt: skip
    gold = leaf("input", "eq", "plan", value="gold")
    low = leaf("random", "lte", value=10)
    assert condition_explain({"all": [gold, low]}, f, "a") == (False, "random = 17")
    assert condition_explain({"any": [low, gold]}, f, "a") == (True, 'input plan = "gold"')
    assert condition_explain({"all": [gold, {"not": low}]}, f, "a") == (
        True, 'input plan = "gold" and not (random = 17)',
    )  # fmt: skip
    assert condition_explain(leaf("goal", "reached", "g-x", within_hours=2), f, "a") == (
        False, "goal g-x not reached within 2 h",
    )  # fmt: skip


def test_describe__in_words():
    gold = leaf("input", "eq", "plan", value="gold")
    assert condition_describe({"all": [gold, leaf("random", "lte", value=20)]}) == (
        "input plan is gold and 20% of visitors"
    )
    either = {"any": [gold, leaf("trait", "eq", "ua/mo", value="y")]}
    bought = leaf("goal", "reached", "g-buy", within_hours=24)
    assert condition_describe({"all": [either, bought]}) == (
        "(input plan is gold or trait ua/mo is y) and has reached goal g-buy within 24 h"
    )
    assert condition_describe(None) == "everyone"
    assert condition_describe(leaf("input", "in", "c", values=["fr", "de"], ci=True)) == (
        "input c is one of fr, de (any case)"
    )


def test_sources_and_names_used():
    condition = {"all": [leaf("goal", "reached", "g-a"), {"not": leaf("variation", "set", "a-b")}]}
    assert sources_used(condition) == {"goal", "variation"}
    assert names_used(condition, "goal") == {"g-a"}
    assert names_used(condition, "variation") == {"a-b"}


# --- properties: evaluation never raises on what the check accepts -------------------------

_text = st.text(max_size=12)
_clean = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
)
_name = {
    "input": st.from_regex(r"\A[A-Za-z0-9_.-]{1,8}\Z"),
    "trait": st.from_regex(r"\A(cust|ua)/[a-z]{1,6}\Z"),
    "goal": st.from_regex(r"\Ag-[a-z]{1,6}\Z"),
    "variation": st.from_regex(r"\Aa-[a-z]{1,6}\Z"),
}
_value = st.one_of(
    _text,
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(_text, max_size=3),
)
_raw_leaf = st.fixed_dictionaries(
    {"source": st.sampled_from([*SOURCES, "cookie"]), "op": st.sampled_from([*OPERATORS, "x"])},
    optional={
        "name": st.one_of(*_name.values(), _text),
        "value": _value,
        "values": st.one_of(st.lists(_text, max_size=3), _value),
        "ci": st.one_of(st.booleans(), _text),
        "within_hours": st.one_of(st.integers(-2, 100), st.floats()),
    },
)
_raw_condition = st.recursive(
    _raw_leaf,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"all": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
    ),
    max_leaves=8,
)


@st.composite
def _valid_leaf(draw):
    source = draw(st.sampled_from(SOURCES))
    node = {"source": source}
    if source in _name:
        node["name"] = draw(_name[source])
    if source == "goal":
        node["op"] = draw(st.sampled_from(["reached", "not_reached"]))
        if draw(st.booleans()):
            node["within_hours"] = draw(st.integers(1, 1000))
        return node
    op = draw(st.sampled_from([o for o in OPERATORS if o not in ("reached", "not_reached")]))
    node["op"] = op
    if op in ("in", "not_in"):
        node["values"] = draw(st.lists(_clean, min_size=1, max_size=3))
    elif op in ("lt", "lte", "gt", "gte"):
        node["value"] = draw(
            st.one_of(
                st.integers(-1000, 1000),
                st.floats(allow_nan=False, allow_infinity=False),
                st.from_regex(r"\A-?[0-9]{1,4}(\.[0-9]{1,3})?\Z"),
            )
        )
    elif op not in ("set", "not_set"):
        node["value"] = draw(_clean)
    if op in ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with") and draw(
        st.booleans()
    ):
        node["ci"] = draw(st.booleans())
    return node


_valid_condition = st.recursive(
    _valid_leaf(),
    lambda inner: st.one_of(
        st.fixed_dictionaries({"all": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"any": st.lists(inner, min_size=1, max_size=3)}),
        st.fixed_dictionaries({"not": inner}),
    ),
    max_leaves=8,
)
_visitor_text = st.one_of(_text, st.from_regex(r"\A-?[0-9]{1,4}(\.[0-9]{1,3})?\Z"))
_facts = st.builds(
    lambda inputs, traits, random, goals, variations: Facts(
        target="dt-web",
        now=NOW,
        random=lambda agent: random,
        inputs=inputs,
        traits=traits,
        goals=goals,
        variations=variations,
    ),  # fmt: skip
    st.dictionaries(_name["input"], _visitor_text, max_size=4),
    st.dictionaries(_name["trait"], _visitor_text, max_size=3),
    st.integers(1, 100),
    st.dictionaries(
        _name["goal"],
        st.datetimes(
            min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - Hypothesis adds the zone
            max_value=datetime(2030, 1, 1),  # noqa: DTZ001
            timezones=st.just(UTC),
        ),
        max_size=3,
    ),
    st.dictionaries(_name["variation"], _text, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(condition=_valid_condition, f=_facts)
def test_property__valid_conditions__are_accepted_and_evaluate(condition, f):
    try:
        condition_check(condition, path="c")
    except ConditionError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert "nest at most" in refusal  # the generator may nest deeper than allowed
        return
    explained, text = condition_explain(condition, f, "a-x")
    assert explained is condition_holds(condition, f, "a-x")
    assert text


@settings(max_examples=400, deadline=None)
@given(condition=st.one_of(_raw_condition, _valid_condition), f=_facts)
def test_property__evaluation_never_raises_on_what_the_check_accepts(condition, f):
    try:
        condition_check(condition, path="c")
    except ConditionError as exc:
        refusal = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.path.startswith("c")  # every refusal names a path
        return
    holds_ = condition_holds(condition, f, "a-x")
    explained, text = condition_explain(condition, f, "a-x")
    assert explained is holds_
    assert isinstance(text, str)
    assert text
    assert condition_describe(condition)


def _nested(leaves: int) -> dict:
    """`leaves` leaves, in groups of 10 (no list longer than the limit of one list)."""
    groups = [
        {"all": [leaf("input", "set", "a")] * min(10, leaves - i)} for i in range(0, leaves, 10)
    ]
    return {"any": groups}


@pytest.mark.parametrize(
    ("eligibility", "rule", "where"),
    [
        (LEAVES_MAX + 1, 0, "eligibility"),  # the eligibility alone is over: named there
        (LEAVES_MAX, 1, "rules"),  # together over: named where the last leaves came
        (0, LEAVES_MAX + 1, "rules"),
    ],
)
def test_targeting__too_many_leaves__named_where_they_are(eligibility, rule, where):
    """Hardening 2, item 6: 51 leaves under `eligibility` were reported under `rules`."""
    from targeting.rules import agent_targeting_check

    rules = [{"name": "r", "when": _nested(rule), "variation": "A"}] if rule else []
    with pytest.raises(ConditionError) as caught:
        agent_targeting_check(
            eligibility=_nested(eligibility) if eligibility else None,
            rules=rules, qa=[], variation_codes=["A"],
        )  # fmt: skip
    assert str(caught.value).startswith(f"{where}:"), str(caught.value)
    assert f"at most {LEAVES_MAX} leaves" in str(caught.value)
