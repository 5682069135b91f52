"""The condition language's schema (targeting/schema.py) says exactly what the check says.

Hypothesis draws near-conditions (right and wrong keys, sources, names, operators and
operands, nested past the depth limit) and each must be valid by the OpenAPI schema, read
with its limits `x-max-depth` and `x-max-leaves`, if and only if `condition_check` accepts
it: a schema stricter than the check would make clients refuse what works, a looser one
would promise what the server refuses.
"""

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker
from openapi_schema_validator import OAS30Validator

from accounts.codes import FORMAT_PRINTABLE
from targeting.conditions import (
    DEPTH_MAX,
    GOAL_OPS,
    GOAL_SOURCES,
    LEAVES_MAX,
    LIST_OPS,
    NUMBER_OPS,
    OPERATORS,
    PRESENCE_OPS,
    SOURCES,
    STRING_OPS,
    VALUE_LENGTH_MAX,
    VALUES_MAX,
    WITHIN_HOURS_MAX,
    ConditionError,
    condition_check,
)
from targeting.rules import QA_ID_MAX, agent_targeting_check
from targeting.schema import CONDITION, GOAL_CONDITION, QA_OVERRIDE, RULE, components
from tests.helpers import condition_leaves, condition_levels

pytestmark = pytest.mark.db_independent  # pure rules: the SQLite run checks them

FORMATS = FormatChecker()
FORMATS.checks(FORMAT_PRINTABLE)(lambda value: not isinstance(value, str) or value.isprintable())


def _ecma_ends(node: object) -> object:
    """The schema with each closing `$` spelled `\\Z`: in JSON Schema (ECMA 262) `$` is the
    end of the text, while Python's `re`, which this validator uses, also matches it before
    a final newline (Schemathesis spells it the same way)."""
    if isinstance(node, dict):
        return {
            k: v[:-1] + r"\Z" if k == "pattern" and v.endswith("$") else _ecma_ends(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_ecma_ends(v) for v in node]
    return node


def _validator(schema: dict) -> OAS30Validator:
    root = _ecma_ends({**schema, "components": {"schemas": components()}})
    return OAS30Validator(root, format_checker=FORMATS)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class _WithLimits:
    """A condition schema read whole: valid by JSON Schema, and within the depth and leaf
    limits that the component states as `x-max-depth` and `x-max-leaves`."""

    def __init__(self, name: str):
        self.component = components()[name]
        self.validator = _validator(_ref(name))

    def is_valid(self, condition: object) -> bool:
        return (
            self.validator.is_valid(condition)
            and condition_levels(condition) <= self.component["x-max-depth"]
            and condition_leaves(condition) <= self.component["x-max-leaves"]
        )


CONDITION_SCHEMA = _WithLimits(CONDITION)
GOAL_CONDITION_SCHEMA = _WithLimits(GOAL_CONDITION)
TARGETING_SCHEMA = _validator(
    {
        "type": "object",
        "properties": {
            "rules": {"type": "array", "items": _ref(RULE)},
            "qa": {"type": "array", "items": _ref(QA_OVERRIDE)},
        },
    }
)

_texts = st.one_of(
    st.sampled_from(["", "x", "Gold", "a\x00b", "x" * VALUE_LENGTH_MAX,
                     "x" * (VALUE_LENGTH_MAX + 1), "12", "-1.5", "1.", "1e3", " 7", "\u2028", "é"]),
    st.text(max_size=4),
)  # fmt: skip
_anything = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**20), _texts,
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.just([]), st.just({}),
)  # fmt: skip
_names = st.sampled_from(
    ["tier", "a.b", "cust/tier", "ua/mo", "cust/", "tr/x", "g-purchase", "g-", "a-hero", "a-",
     "x" * 65, "", " tier", "tier\n", None, 5]
)  # fmt: skip
_VALID_NAMES = {
    "input": ["tier", "a.b-c_9"], "trait": ["cust/tier", "ua/mo"], "goal": ["g-purchase"],
    "variation": ["a-hero"],
}  # fmt: skip
_SINGLE_STRING_OPS = [op for op in STRING_OPS if op not in LIST_OPS]


@st.composite
def _good_leaf(draw) -> dict:
    """A valid leaf of any source and operator, with its optional keys or without."""
    source = draw(st.sampled_from(SOURCES))
    leaf: dict = {"source": source}
    if source in _VALID_NAMES:
        leaf["name"] = draw(st.sampled_from(_VALID_NAMES[source]))
    op = draw(st.sampled_from(GOAL_OPS if source == "goal" else STRING_OPS + NUMBER_OPS
                              + PRESENCE_OPS))  # fmt: skip
    leaf["op"] = op
    if op in LIST_OPS:
        leaf["values"] = draw(st.lists(st.sampled_from(["a", "", "x" * VALUE_LENGTH_MAX]),
                                       min_size=1, max_size=3))  # fmt: skip
    elif op in NUMBER_OPS:
        leaf["value"] = draw(st.sampled_from([5, -1.5, 10**20, "12", "-0.25"]))
    elif op in _SINGLE_STRING_OPS:
        leaf["value"] = draw(st.sampled_from(["a", "", "x" * VALUE_LENGTH_MAX]))
    if draw(st.booleans()):
        leaf["ci"] = draw(st.sampled_from([True, False]) if op in STRING_OPS else st.none())
    if draw(st.booleans()):
        leaf["within_hours"] = draw(
            st.sampled_from([1, 24, WITHIN_HOURS_MAX]) if source == "goal" else st.none()
        )
    return leaf


# what each key of a leaf may be set to, right or wrong
_POOLS = {
    "source": st.sampled_from([*SOURCES, "nope", None, 1]),
    "name": _names,
    "op": st.sampled_from([*OPERATORS, "equals", None]),
    "value": _anything,
    "values": st.one_of(
        st.lists(st.one_of(_texts, st.integers(0, 3)), max_size=3),
        st.lists(st.just("v"), min_size=VALUES_MAX, max_size=VALUES_MAX + 1),
        _anything,
    ),
    "ci": st.one_of(st.booleans(), st.none(), st.just("yes")),
    "within_hours": st.one_of(
        st.none(),
        st.integers(-1, 3),
        st.sampled_from([WITHIN_HOURS_MAX, WITHIN_HOURS_MAX + 1]),
        st.just(2.5),
        st.booleans(),
        st.just("5"),
    ),  # fmt: skip
    "all ": st.just(1),
}
_CHANGES = [*_POOLS, *(f"-{key}" for key in ("source", "name", "op", "value", "values"))]


def _changed(leaf_and_change: tuple[dict, str]) -> st.SearchStrategy:
    leaf, change = leaf_and_change
    if change.startswith("-"):
        return st.just({k: v for k, v in leaf.items() if k != change[1:]})
    return _POOLS[change].map(lambda value: {**leaf, change: value})


# a valid leaf with one key set to another value, right or wrong, or taken away
_mutated_leaves = st.tuples(_good_leaf(), st.sampled_from(_CHANGES)).flatmap(_changed)
_good_leaves = _good_leaf()


def _combine(inner: st.SearchStrategy) -> st.SearchStrategy:
    key = st.sampled_from(["all", "any"])
    return st.one_of(
        st.builds(lambda k, xs: {k: xs}, key, st.lists(inner, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda k, xs: {k: xs, "source": "input"}, key, st.lists(inner, max_size=2)),
        st.builds(lambda c: {"not": c, "all": [c]}, inner),
        st.builds(lambda c: {"not": [c]}, inner),
        st.builds(lambda k, c: {k: c}, key, inner),  # not a list
    )


def _proper(inner: st.SearchStrategy) -> st.SearchStrategy:
    key = st.sampled_from(["all", "any"])
    return st.one_of(
        st.builds(lambda k, xs: {k: xs}, key, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, inner),
    )


def _wrapped(chain: list[str], node: object) -> object:
    for key in chain:
        node = {"not": node} if key == "not" else {key: [node]}
    return node


_proper_conditions = st.recursive(_good_leaves, _proper, max_leaves=8)
conditions = st.one_of(
    _proper_conditions,
    # chains of combinators around a condition, to cross the depth limit
    st.builds(_wrapped, st.lists(st.sampled_from(["all", "any", "not"]), max_size=DEPTH_MAX + 1),
              _proper_conditions),
    st.recursive(st.one_of(_mutated_leaves, _good_leaves, _anything), _combine, max_leaves=12),
)  # fmt: skip


def _accepted(condition: object, sources: tuple[str, ...]) -> bool:
    """As a goal's `when` or an agent's eligibility is checked: the condition, then its
    leaves against the limit."""
    try:
        leaves = condition_check(condition, path="c", sources=sources)
    except ConditionError:
        return False
    return leaves <= LEAVES_MAX


def _depth(node: object) -> int:
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return max((_depth(v) for v in node), default=0)
    return 0


@pytest.mark.parametrize(
    ("schema", "sources"),
    [(CONDITION_SCHEMA, SOURCES), (GOAL_CONDITION_SCHEMA, GOAL_SOURCES)],
    ids=["agent", "goal"],
)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=conditions)
def test_schema__valid_exactly_when_the_check_accepts(schema, sources, condition):
    assume(condition is not None)  # null is the field's (nullable), not the component's
    assert schema.is_valid(condition) == _accepted(condition, sources), condition


def test_the_strategy__reaches_both_answers_and_the_depth_limit():
    """The property above is only as good as what it draws: valid conditions, invalid ones,
    and conditions one level past the limit must all come up."""
    seen = {"valid": 0, "invalid": 0, "too_deep": 0}

    @settings(max_examples=600, deadline=None, database=None)
    @given(condition=conditions)
    def draw(condition):
        seen["valid" if _accepted(condition, SOURCES) else "invalid"] += 1
        if _depth(condition) > DEPTH_MAX:
            seen["too_deep"] += 1

    draw()
    assert seen["valid"] > 50, seen
    assert seen["invalid"] > 50, seen
    assert seen["too_deep"] > 0, seen


_REPRESENTATIVES = {
    "source": [*SOURCES, "nope", None, 1],
    "name": ["tier", "cust/tier", "ua/mo", "g-purchase", "a-hero", "", "x" * 65, None, 5,
             "tier\n", "cust/"],
    "op": [*OPERATORS, "equals", None],
    "value": [None, True, 0, 5, -1.5, 10**20, "12", "-0.25", "1.", "1e3", "a", "",
              "x" * VALUE_LENGTH_MAX, "x" * (VALUE_LENGTH_MAX + 1), "a\x00", [], {}],
    "values": [["a"], [], ["v"] * VALUES_MAX, ["v"] * (VALUES_MAX + 1), [1], ["a\x00"],
               ["x" * (VALUE_LENGTH_MAX + 1)], "a", None],
    "ci": [True, False, None, "yes", 1],
    "within_hours": [None, 0, 1, WITHIN_HOURS_MAX, WITHIN_HOURS_MAX + 1, 2.5, True, "5"],
    "extra": [1],
}  # fmt: skip


def _base_leaf(source: str, op: str) -> dict:
    """A leaf of `source` and `op` with the name and operand they would need."""
    leaf: dict = {"source": source, "op": op}
    if source in _VALID_NAMES:
        leaf["name"] = _VALID_NAMES[source][0]
    if op in LIST_OPS:
        leaf["values"] = ["a"]
    elif op in NUMBER_OPS:
        leaf["value"] = "12"
    elif op in _SINGLE_STRING_OPS:
        leaf["value"] = "a"
    return leaf


def _every_single_change():
    for source in SOURCES:
        for op in OPERATORS:
            base = _base_leaf(source, op)
            yield base
            for key, values in _REPRESENTATIVES.items():
                for value in values:
                    yield {**base, key: value}
            for key in base:
                yield {k: v for k, v in base.items() if k != key}


@pytest.mark.parametrize(
    ("schema", "sources"),
    [(CONDITION_SCHEMA, SOURCES), (GOAL_CONDITION_SCHEMA, GOAL_SOURCES)],
    ids=["agent", "goal"],
)
def test_every_leaf_one_change_from_another__valid_exactly_when_the_check_accepts(schema, sources):
    """Every source with every operator, and each of those with one key set to each of
    the values above or taken away: about 7,000 leaves, each judged the same by both."""
    differ = []
    counted = 0
    for leaf in _every_single_change():
        counted += 1
        if schema.is_valid(leaf) != _accepted(leaf, sources):
            differ.append(leaf)
    assert counted > 6000
    assert differ == []


def _deep(levels: int) -> dict:
    node: dict = {"source": "trait", "name": "cust/tier", "op": "set"}
    for _ in range(levels - 1):
        node = {"not": node}
    return node


@pytest.mark.parametrize("levels", [DEPTH_MAX - 1, DEPTH_MAX, DEPTH_MAX + 1, DEPTH_MAX + 3])
def test_depth_limit__the_same_in_both(levels):
    assert CONDITION_SCHEMA.is_valid(_deep(levels)) == _accepted(_deep(levels), SOURCES)
    assert CONDITION_SCHEMA.is_valid(_deep(levels)) == (levels <= DEPTH_MAX)
    # JSON Schema alone takes any depth: the limit is the component's x-max-depth
    assert CONDITION_SCHEMA.validator.is_valid(_deep(levels))


@pytest.mark.parametrize("count", [LEAVES_MAX, LEAVES_MAX + 1])
def test_leaf_limit__the_same_in_both(count):
    leaf = {"source": "trait", "name": "cust/tier", "op": "set"}
    condition = {"any": [{"all": [leaf] * (count - 1)}, leaf]}
    assert CONDITION_SCHEMA.is_valid(condition) == _accepted(condition, SOURCES)
    assert CONDITION_SCHEMA.is_valid(condition) == (count <= LEAVES_MAX)
    # a list longer than the limit is refused by JSON Schema itself (maxItems)
    assert not CONDITION_SCHEMA.validator.is_valid({"all": [leaf] * (LEAVES_MAX + 1)})


def test_schema__states_its_limits_and_recurses_through_named_objects():
    schemas = components()
    assert schemas[CONDITION]["x-max-depth"] == DEPTH_MAX
    assert schemas[CONDITION]["x-max-leaves"] == LEAVES_MAX
    assert schemas[f"{CONDITION}All"]["properties"]["all"]["items"] == _ref(CONDITION)
    assert schemas[f"{CONDITION}Not"]["properties"]["not"] == _ref(CONDITION)


def test_goal_schema__refuses_source_random_as_the_goal_check_does():
    leaf = {"source": "random", "op": "lt", "value": 5}
    assert CONDITION_SCHEMA.is_valid(leaf)
    assert _accepted(leaf, SOURCES)
    assert not GOAL_CONDITION_SCHEMA.is_valid(leaf)
    assert not _accepted(leaf, GOAL_SOURCES)


_ids = st.one_of(
    st.sampled_from(["s1", "lana-123", "", "x" * QA_ID_MAX, "x" * (QA_ID_MAX + 1), "a\x00",
                     "a\u2028b", "tab\there", "é"]),
    st.text(max_size=3),
)  # fmt: skip
_overrides = st.fixed_dictionaries(
    {}, optional={"session": _ids, "vid": _ids, "variation": st.sampled_from(["A", "B"]),
                  "who": st.just("x")},
)  # fmt: skip
_rules = st.fixed_dictionaries(
    {"variation": st.sampled_from(["A", "B"])},
    optional={
        "name": st.one_of(_texts, st.sampled_from(["  ", "\t", "x" * 200, "x" * 201]), st.none()),
        "when": st.one_of(st.none(), _good_leaves, conditions),
        "priority": st.just(1),
    },
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(_rules, max_size=3), qa=st.lists(_overrides, max_size=3))
def test_rules_and_qa__valid_exactly_when_the_targeting_check_accepts(rules, qa):
    """With variations of the agent's own (membership is the one rule the schema only
    names), and each visitor overridden once (the other)."""
    whos = [(k, o[k]) for o in qa for k in ("session", "vid") if k in o]
    assume(len(whos) == len(set(whos)))
    try:
        agent_targeting_check(eligibility=None, rules=rules, qa=qa, variation_codes=["A", "B"])
        accepted = True
    except ConditionError:
        accepted = False
    whens = [rule["when"] for rule in rules if rule.get("when") is not None]
    by_schema = (
        TARGETING_SCHEMA.is_valid({"rules": rules, "qa": qa})
        and all(condition_levels(when) <= DEPTH_MAX for when in whens)
        and sum(condition_leaves(when) for when in whens) <= LEAVES_MAX
    )
    assert by_schema == accepted, (rules, qa)
