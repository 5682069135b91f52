"""The condition language of SPEC §4b: validate, evaluate, explain and describe.

A condition is JSON: `{"all": [...]}`, `{"any": [...]}`, `{"not": c}`, or a leaf
`{"source", "name", "op", "value" | "values", "ci", "within_hours"}`. Pure functions over
plain data: the request engine hands in `Facts` (what the request and the visitor's one
read know), and nothing here touches the database.

`condition_check` refuses what evaluation could not handle, naming the path of the fault
(`rules[0].when.all[1].op: unknown operator "equals"`); `condition_compile` turns a
checked condition into a predicate once (when the configuration is loaded), so the hot
path runs closures, not JSON walks; `condition_explain` says which leaf decided (for
`data.log` and the explain endpoint); `condition_describe` says it in words for the admin.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from accounts.codes import AGENT_CODE_RE, BAD_TEXT_RULE, GOAL_CODE_RE, text_ok

# limits of SPEC §4b
RULES_MAX = 20
LEAVES_MAX = 50
DEPTH_MAX = 5
VALUES_MAX = 100  # of `values` for in / not_in
VALUE_LENGTH_MAX = 256
WITHIN_HOURS_MAX = 24 * 365 * 10

SOURCE_INPUT = "input"
SOURCE_TRAIT = "trait"
SOURCE_RANDOM = "random"
SOURCE_TARGET = "target"
SOURCE_GOAL = "goal"
SOURCE_VARIATION = "variation"
SOURCES = (
    SOURCE_INPUT,
    SOURCE_TRAIT,
    SOURCE_RANDOM,
    SOURCE_TARGET,
    SOURCE_GOAL,
    SOURCE_VARIATION,
)
# what a goal's condition may read (SPEC §4b: a goal has no random number of its own)
GOAL_SOURCES = (SOURCE_INPUT, SOURCE_TRAIT, SOURCE_TARGET, SOURCE_GOAL, SOURCE_VARIATION)
# what a browser can evaluate from a bundle (SPEC §5): the others need the visitor's state
BROWSER_SOURCES = (SOURCE_INPUT, SOURCE_TRAIT, SOURCE_RANDOM, SOURCE_TARGET)

STRING_OPS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with")
NUMBER_OPS = ("lt", "lte", "gt", "gte")
PRESENCE_OPS = ("set", "not_set")
GOAL_OPS = ("reached", "not_reached")
OPERATORS = STRING_OPS + NUMBER_OPS + PRESENCE_OPS + GOAL_OPS
LIST_OPS = ("in", "not_in")
# the operators that hold when the value is absent
ABSENT_HOLDS = ("not_set", "not_reached")

INPUT_NAME_RE = r"^[A-Za-z0-9_.-]{1,64}\Z"
TRAIT_NAME_RE = r"^(cust|ua)/[A-Za-z0-9_-]{1,64}\Z"
UA_TRAIT_PREFIX = "ua/"  # traits the server derives from the UA (a browser has none of them)
# a decimal number as both sides of lt/lte/gt/gte are read (the same in JavaScript)
NUMBER_RE = r"^-?[0-9]{1,30}(\.[0-9]{1,30})?\Z"

# the sources that take a name, and the pattern of that name
NAME_RES = {
    SOURCE_INPUT: INPUT_NAME_RE,
    SOURCE_TRAIT: TRAIT_NAME_RE,
    SOURCE_GOAL: GOAL_CODE_RE,
    SOURCE_VARIATION: AGENT_CODE_RE,
}
_NAME_RULES = {
    SOURCE_INPUT: "an input key: 1 to 64 of A-Z a-z 0-9 _ . -",
    SOURCE_TRAIT: 'a trait group such as "cust/tier" or "ua/mo" ("cust/" or "ua/" and 1 to '
    "64 of A-Z a-z 0-9 _ -)",
    SOURCE_GOAL: 'a goal code such as "g-purchase"',
    SOURCE_VARIATION: 'an agent code such as "a-hero"',
}
_NAMES = {source: (re.compile(NAME_RES[source]), rule) for source, rule in _NAME_RULES.items()}
_NUMBER = re.compile(NUMBER_RE)
_LEAF_KEYS = {"source", "name", "op", "value", "values", "ci", "within_hours"}


class ConditionError(ValueError):
    """A condition that cannot be saved; `str()` is `path: message`."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Facts:
    """What a condition can read for one visitor in one request.

    `traits` maps a group as conditions name it (`cust/tier`, `ua/mo`) to its value;
    `goals` maps a goal code to when this visitor last reached it; `variations` maps an
    agent code to the visitor's variation there; `random(agent_code)` is the visitor's
    number 1 to 100 for that agent.
    """

    target: str
    now: datetime
    random: Callable[[str], int]
    inputs: Mapping[str, str] = field(default_factory=dict)
    traits: Mapping[str, str] = field(default_factory=dict)
    goals: Mapping[str, datetime] = field(default_factory=dict)
    variations: Mapping[str, str] = field(default_factory=dict)


Predicate = Callable[[Facts, str], bool]  # (facts, agent code) -> holds


# --- validation --------------------------------------------------------------------------


def condition_check(condition: Any, *, path: str, sources: tuple[str, ...] = SOURCES) -> int:
    """Raise ConditionError unless `condition` is a valid condition (None is: everyone).

    Returns its number of leaves (the caller adds them up against `LEAVES_MAX`).
    """
    if condition is None:
        return 0
    return _check(condition, path=path, sources=sources, depth=1)


def _check(node: Any, *, path: str, sources: tuple[str, ...], depth: int) -> int:
    if not isinstance(node, dict):
        raise ConditionError(path, "a condition is an object: all, any, not, or a leaf")
    if depth > DEPTH_MAX:
        raise ConditionError(path, f"conditions nest at most {DEPTH_MAX} deep")
    combinators = [k for k in ("all", "any", "not") if k in node]
    if combinators:
        key = combinators[0]
        if len(node) != 1:
            other = sorted(k for k in node if k != key)[0]
            raise ConditionError(f"{path}.{other}", f'unexpected beside "{key}"')
        inner = node[key]
        if key == "not":
            return _check(inner, path=f"{path}.not", sources=sources, depth=depth + 1)
        if not isinstance(inner, list) or not inner:
            raise ConditionError(f"{path}.{key}", "a non-empty list of conditions")
        leaves = 0
        for i, child in enumerate(inner):
            leaves += _check(child, path=f"{path}.{key}[{i}]", sources=sources, depth=depth + 1)
        return leaves
    _leaf_check(node, path=path, sources=sources)
    return 1


def _leaf_check(leaf: dict[str, Any], *, path: str, sources: tuple[str, ...]) -> None:
    unknown = sorted(key_shown(k) for k in leaf if k not in _LEAF_KEYS)
    if unknown:
        raise ConditionError(f"{path}.{unknown[0]}", "unknown key")
    source = leaf.get("source")
    if source is None:
        raise ConditionError(path, 'a leaf needs "source" (or use all, any, not)')
    if source not in sources:
        raise ConditionError(
            f"{path}.source",
            f"unknown source {value_shown(source)}: one of {', '.join(sources)}"
            if source not in SOURCES
            else f"source {source} cannot be used here: one of {', '.join(sources)}",
        )
    name = leaf.get("name")
    if source in _NAMES:
        pattern, rule = _NAMES[source]
        if not isinstance(name, str) or not pattern.match(name):
            raise ConditionError(f"{path}.name", f"{source} needs a name: {rule}")
    elif name is not None:
        raise ConditionError(f"{path}.name", f"source {source} takes no name")
    op = leaf.get("op")
    if op not in OPERATORS:
        raise ConditionError(
            f"{path}.op", f"unknown operator {value_shown(op)}: one of {', '.join(OPERATORS)}"
        )
    if (source == SOURCE_GOAL) != (op in GOAL_OPS):
        raise ConditionError(
            f"{path}.op",
            "source goal takes reached or not_reached"
            if source == SOURCE_GOAL
            else f"{op} is for source goal only",
        )
    _operand_check(leaf, op=op, path=path)
    ci = leaf.get("ci")
    if ci is not None and (not isinstance(ci, bool) or op not in STRING_OPS):
        raise ConditionError(f"{path}.ci", "true or false, for string operators only")
    hours = leaf.get("within_hours")
    if hours is not None and (
        source != SOURCE_GOAL
        or isinstance(hours, bool)
        or not isinstance(hours, int)
        or not 1 <= hours <= WITHIN_HOURS_MAX
    ):
        raise ConditionError(
            f"{path}.within_hours",
            f"a whole number of hours from 1 to {WITHIN_HOURS_MAX}, for source goal only",
        )


def _operand_check(leaf: dict[str, Any], *, op: str, path: str) -> None:
    has_value, has_values = "value" in leaf, "values" in leaf
    if op in LIST_OPS:
        if has_value:
            raise ConditionError(f"{path}.value", f'{op} takes "values", a list')
        values = leaf.get("values")
        if not isinstance(values, list) or not 1 <= len(values) <= VALUES_MAX:
            raise ConditionError(f"{path}.values", f"a list of 1 to {VALUES_MAX} strings")
        for i, item in enumerate(values):
            _string_check(item, path=f"{path}.values[{i}]")
        return
    if has_values:
        raise ConditionError(f"{path}.values", 'only in and not_in take "values"')
    if op in PRESENCE_OPS + GOAL_OPS:
        if has_value:
            raise ConditionError(f"{path}.value", f"{op} takes no value")
        return
    if not has_value:
        raise ConditionError(f"{path}.value", f"{op} needs a value")
    value = leaf["value"]
    if op in NUMBER_OPS:
        if isinstance(value, bool) or not (
            (isinstance(value, int | float) and _finite(value))
            or (isinstance(value, str) and _NUMBER.match(value))
        ):
            raise ConditionError(f"{path}.value", f"{op} compares numbers: a decimal number")
        return
    _string_check(value, path=f"{path}.value")


def _string_check(value: Any, *, path: str) -> None:
    if not isinstance(value, str):
        raise ConditionError(path, "a string")
    if len(value) > VALUE_LENGTH_MAX:
        raise ConditionError(path, f"at most {VALUE_LENGTH_MAX} characters")
    if not text_ok(value):
        raise ConditionError(path, BAD_TEXT_RULE)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def value_shown(value: Any) -> str:
    """A value as a message quotes it: short, and printable whatever it holds."""
    if isinstance(value, str):
        return json.dumps(value[:40])  # NUL, surrogates and quotes escaped
    return repr(value)[:40]


def key_shown(key: Any) -> str:
    """An object key as a path names it: as sent when printable text, else escaped."""
    text = str(key)
    return text[:40] if text.isprintable() and text_ok(text) else json.dumps(text[:40])


def sources_used(condition: Any) -> set[str]:
    """The sources a (checked) condition reads."""
    if condition is None:
        return set()
    if "all" in condition or "any" in condition:
        found: set[str] = set()
        for child in condition.get("all") or condition.get("any"):
            found |= sources_used(child)
        return found
    if "not" in condition:
        return sources_used(condition["not"])
    return {condition["source"]}


def names_used(condition: Any, source: str) -> set[str]:
    """The names of `source` a (checked) condition reads: goal codes, agent codes..."""
    if condition is None:
        return set()
    if "all" in condition or "any" in condition:
        found: set[str] = set()
        for child in condition.get("all") or condition.get("any"):
            found |= names_used(child, source)
        return found
    if "not" in condition:
        return names_used(condition["not"], source)
    return {condition["name"]} if condition["source"] == source else set()


# --- evaluation --------------------------------------------------------------------------


def number_read(value: Any) -> float | None:
    """A value as a decimal number, or None when it is not one (then the leaf is false)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def _read(leaf: dict[str, Any], facts: Facts, agent_code: str) -> Any:
    """The visitor's value that a leaf reads (None when absent)."""
    source = leaf["source"]
    if source == SOURCE_INPUT:
        return facts.inputs.get(leaf["name"])
    if source == SOURCE_TRAIT:
        return facts.traits.get(leaf["name"])
    if source == SOURCE_RANDOM:
        return str(facts.random(agent_code))
    if source == SOURCE_TARGET:
        return facts.target
    if source == SOURCE_VARIATION:
        return facts.variations.get(leaf["name"])
    reached = facts.goals.get(leaf["name"])  # SOURCE_GOAL
    hours = leaf.get("within_hours")
    if reached is not None and hours is not None and reached < facts.now - timedelta(hours=hours):
        return None
    return reached


def _leaf_compile(leaf: dict[str, Any]) -> Predicate:
    op = leaf["op"]
    if op in ("set", "reached"):
        return lambda facts, agent: _read(leaf, facts, agent) is not None
    if op in ("not_set", "not_reached"):
        return lambda facts, agent: _read(leaf, facts, agent) is None
    if op in NUMBER_OPS:
        wanted = number_read(leaf["value"])
        compare: Callable[[float], bool] = {
            "lt": lambda a: a < wanted,
            "lte": lambda a: a <= wanted,
            "gt": lambda a: a > wanted,
            "gte": lambda a: a >= wanted,
        }[op]

        def number_holds(facts: Facts, agent: str) -> bool:
            actual = number_read(_read(leaf, facts, agent))
            return actual is not None and compare(actual)

        return number_holds
    ci = bool(leaf.get("ci"))
    fold = str.lower if ci else _same
    if op in LIST_OPS:
        wanted_set = frozenset(fold(v) for v in leaf["values"])
        inside = op == "in"

        def list_holds(facts: Facts, agent: str) -> bool:
            actual = _read(leaf, facts, agent)
            return actual is not None and (fold(actual) in wanted_set) == inside

        return list_holds
    wanted_text = fold(leaf["value"])
    test: Callable[[str], bool] = {
        "eq": lambda a: a == wanted_text,
        "ne": lambda a: a != wanted_text,
        "contains": lambda a: wanted_text in a,
        "starts_with": lambda a: a.startswith(wanted_text),
        "ends_with": lambda a: a.endswith(wanted_text),
    }[op]

    def string_holds(facts: Facts, agent: str) -> bool:
        actual = _read(leaf, facts, agent)
        return actual is not None and test(fold(actual))

    return string_holds


def _same(text: str) -> str:
    return text


def condition_compile(condition: Any) -> Predicate | None:
    """A predicate for a checked condition (None for no condition: always holds)."""
    return None if condition is None else _compile(condition)


def _compile(condition: dict[str, Any]) -> Predicate:
    if "all" in condition:
        parts = tuple(_compile(c) for c in condition["all"])
        return lambda facts, agent: all(p(facts, agent) for p in parts)
    if "any" in condition:
        parts = tuple(_compile(c) for c in condition["any"])
        return lambda facts, agent: any(p(facts, agent) for p in parts)
    if "not" in condition:
        inner = _compile(condition["not"])
        return lambda facts, agent: not inner(facts, agent)
    return _leaf_compile(condition)


def condition_holds(condition: Any, facts: Facts, agent_code: str) -> bool:
    """Whether a checked condition holds (compiling it each time: for tests and tools)."""
    predicate = condition_compile(condition)
    return True if predicate is None else predicate(facts, agent_code)


def condition_explain(condition: Any, facts: Facts, agent_code: str) -> tuple[bool, str]:
    """Whether a checked condition holds, and the leaves that decided, in words for a log:
    `input foo = "bar"`, `input plan absent`, `random = 17`."""
    if condition is None:
        return True, "no condition"
    for key in ("all", "any"):
        if key in condition:
            results = [condition_explain(c, facts, agent_code) for c in condition[key]]
            holds = (all if key == "all" else any)(ok for ok, _ in results)
            if holds == (key == "all"):  # every part decided it: all true, or any false
                return holds, " and ".join(text for _, text in results)
            # the first part that decided it: a false one for all, a true one for any
            return holds, next(text for ok, text in results if ok == holds)
    if "not" in condition:
        holds, text = condition_explain(condition["not"], facts, agent_code)
        return not holds, f"not ({text})"
    holds = condition_holds(condition, facts, agent_code)
    return holds, _leaf_seen(condition, facts, agent_code)


def _leaf_seen(leaf: dict[str, Any], facts: Facts, agent_code: str) -> str:
    source, name = leaf["source"], leaf.get("name")
    label = f"{source} {name}" if name else source
    actual = _read(leaf, facts, agent_code)
    if source == SOURCE_GOAL:
        if actual is None:
            within = leaf.get("within_hours")
            return f"goal {name} not reached" + (f" within {within} h" if within else "")
        return f"goal {name} reached at {actual.isoformat(timespec='seconds')}"
    if actual is None:
        return f"{label} absent"
    return f'{label} = "{actual}"' if source != SOURCE_RANDOM else f"{label} = {actual}"


# --- in words, for the admin ---------------------------------------------------------------

_OP_WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "contains": "contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "lt": "is less than",
    "lte": "is at most",
    "gt": "is more than",
    "gte": "is at least",
    "set": "is set",
    "not_set": "is not set",
}


def condition_describe(condition: Any) -> str:
    """A checked condition in words: `input plan is gold and 20% of visitors`."""
    if condition is None:
        return "everyone"
    for key, joiner in (("all", " and "), ("any", " or ")):
        if key in condition:
            parts = []
            for child in condition[key]:
                text = condition_describe(child)
                nested = ("all" in child or "any" in child) and len(child[next(iter(child))]) > 1
                parts.append(f"({text})" if nested else text)
            return joiner.join(parts)
    if "not" in condition:
        return f"not ({condition_describe(condition['not'])})"
    return _leaf_describe(condition)


def _leaf_describe(leaf: dict[str, Any]) -> str:
    source, name, op = leaf["source"], leaf.get("name"), leaf["op"]
    if source == SOURCE_GOAL:
        within = leaf.get("within_hours")
        verb = "has reached" if op == "reached" else "has not reached"
        return f"{verb} goal {name}" + (f" within {within} h" if within else "")
    if source == SOURCE_RANDOM and op == "lte":
        return f"{_number_text(leaf['value'])}% of visitors"
    if source == SOURCE_RANDOM and op == "gt":
        rest = 100 - (number_read(leaf["value"]) or 0)
        return f"the other {_number_text(max(rest, 0))}% of visitors"
    subject = {
        SOURCE_INPUT: f"input {name}",
        SOURCE_TRAIT: f"trait {name}",
        SOURCE_RANDOM: "random number",
        SOURCE_TARGET: "deploy target",
        SOURCE_VARIATION: f"variation in {name}",
    }[source]
    words = _OP_WORDS[op]
    if op in PRESENCE_OPS:
        return f"{subject} {words}"
    if op in LIST_OPS:
        value = ", ".join(leaf["values"])
    else:
        value = _number_text(leaf["value"]) if op in NUMBER_OPS else leaf["value"]
    case = " (any case)" if leaf.get("ci") else ""
    return f"{subject} {words} {value}{case}"


def _number_text(value: Any) -> str:
    number = number_read(value)
    if number is None:
        return str(value)
    return str(int(number)) if number == int(number) and abs(number) < 1e15 else repr(number)
