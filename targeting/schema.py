"""The condition language of SPEC §4b as OpenAPI 3.0 schemas, built from the names and
limits `conditions.py` and `rules.py` check with, so the two cannot drift.

A schema states what one condition may be, as `condition_check` decides it: all, any and
not around conditions (recursive), and a leaf whose name, operator and operand follow its
source. Two limits are stated in the description and as `x-max-depth` / `x-max-leaves`
rather than in JSON Schema: at most `DEPTH_MAX` levels and `LEAVES_MAX` leaves in all
(the second cannot be said in JSON Schema; the first only by unrolling, which tools choke
on: see `_family`). Also in words only: a rule's or override's variation being one of
the agent's. A 400 names the path of the fault either way.
`tests/targeting/test_condition_schema.py` holds the schema to `condition_check`.
"""

from typing import Any

from accounts.codes import FORMAT_PRINTABLE, NON_BLANK_PATTERN, TEXT_PATTERN
from targeting.conditions import (
    DEPTH_MAX,
    GOAL_OPS,
    GOAL_SOURCES,
    LEAVES_MAX,
    LIST_OPS,
    NAME_RES,
    NUMBER_OPS,
    NUMBER_RE,
    PRESENCE_OPS,
    RULES_MAX,
    SOURCE_GOAL,
    SOURCES,
    STRING_OPS,
    VALUE_LENGTH_MAX,
    VALUES_MAX,
    WITHIN_HOURS_MAX,
)
from targeting.rules import QA_ID_MAX, QA_MAX, QA_WHO, RULE_NAME_MAX

_REF = "#/components/schemas/"


def _null(kind: str) -> dict[str, Any]:
    """OpenAPI 3.0's "null or absent" (the check takes null as not given)."""
    return {"type": kind, "nullable": True, "enum": [None]}


_TEXT = {"type": "string", "maxLength": VALUE_LENGTH_MAX, "pattern": TEXT_PATTERN}
_SINGLE_STRING_OPS = tuple(op for op in STRING_OPS if op not in LIST_OPS)


def _or_null(component: str) -> dict[str, Any]:
    """The component or null (OpenAPI 3.0 has no null type: `nullable` beside a `$ref` or
    an `allOf` of one is ignored by validators that follow the letter of 3.0.3)."""
    return {"anyOf": [{"$ref": _REF + component}, _null("object")]}


def _regex(python_pattern: str) -> str:
    """A pattern of conditions.py (`\\Z` ends it) as JSON Schema writes it (`$`)."""
    return python_pattern.removesuffix(r"\Z") + "$"


def _by_source(sources: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per source: its name's pattern (required), or none for the sources without names."""
    named = [s for s in sources if s in NAME_RES]
    unnamed = [s for s in sources if s not in NAME_RES]
    variants = [
        {
            "sources": [s],
            "properties": {"name": {"type": "string", "pattern": _regex(NAME_RES[s])}},
            "required": ["name"],
        }
        for s in named
    ]
    if unnamed:
        variants.append(
            {"sources": unnamed, "properties": {"name": _null("string")}, "required": []}
        )
    return variants


def _by_operator(source: str) -> list[dict[str, Any]]:
    """Per kind of operator for `source`: the operand it takes, and ci and within_hours."""
    if source == SOURCE_GOAL:
        return [
            {
                "kind": "Reached",
                "ops": GOAL_OPS,
                "properties": {
                    "ci": _null("boolean"),
                    "within_hours": {
                        "type": "integer",
                        "nullable": True,
                        "minimum": 1,
                        "maximum": WITHIN_HOURS_MAX,
                    },
                },
                "required": [],
            }
        ]
    plain = {"within_hours": _null("integer")}
    case = {"ci": {"type": "boolean", "nullable": True}}
    number = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _regex(NUMBER_RE)}]}
    values = {"type": "array", "minItems": 1, "maxItems": VALUES_MAX, "items": _TEXT}
    return [
        {
            "kind": "List",
            "ops": LIST_OPS,
            "properties": {**plain, **case, "values": values},
            "required": ["values"],
        },
        {
            "kind": "Text",
            "ops": _SINGLE_STRING_OPS,
            "properties": {**plain, **case, "value": _TEXT},
            "required": ["value"],
        },
        {
            "kind": "Number",
            "ops": NUMBER_OPS,
            "properties": {**plain, "ci": _null("boolean"), "value": number},
            "required": ["value"],
        },
        {
            "kind": "Presence",
            "ops": PRESENCE_OPS,
            "properties": {**plain, "ci": _null("boolean")},
            "required": [],
        },
    ]


def _leaves(name: str, sources: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`{name}Leaf` and every kind of leaf it may be, each a closed object of its own, named
    by its sources and its kind of operator (`ConditionLeafInputList`, …): generators and
    client generators take a list of closed objects far better than an intersection, and
    a client gets a class per kind with a name that says what it is."""
    kinds: dict[str, dict[str, Any]] = {}
    for by_source in _by_source(sources):
        for by_operator in _by_operator(by_source["sources"][0]):
            label = "".join(source.capitalize() for source in by_source["sources"])
            kinds[f"{name}Leaf{label}{by_operator['kind']}"] = {
                "type": "object",
                "properties": {
                    "source": {"type": "string", "enum": by_source["sources"]},
                    **by_source["properties"],
                    "op": {"type": "string", "enum": list(by_operator["ops"])},
                    **by_operator["properties"],
                },
                "required": ["source", "op", *by_source["required"], *by_operator["required"]],
                "additionalProperties": False,
            }
    return {
        **kinds,
        f"{name}Leaf": {
            "description": "A leaf: what one source says of the visitor, compared by `op`.",
            "anyOf": [{"$ref": _REF + kind} for kind in kinds],
        },
    }


def _family(name: str, sources: tuple[str, ...], description: str) -> dict[str, dict[str, Any]]:
    """`name` (all, any, not, or a leaf) and the objects it is made of, recursive through
    `{name}All`, `{name}Any` and `{name}Not`. The depth limit is stated as `x-max-depth` and
    in words, not by unrolling the levels: unrolled, Schemathesis' coverage phase draws
    about 100,000 cases for one field (each level multiplies them by three to four), and
    openapi-python-client takes recursion only through named objects, as here."""
    itself = {"$ref": _REF + name}
    # each item of all/any holds a leaf at least, so a list longer than the limit of
    # leaves is refused whatever it holds
    listed = {"type": "array", "minItems": 1, "maxItems": LEAVES_MAX, "items": itself}
    combinators: dict[str, dict[str, Any]] = {
        f"{name}All": {"all": listed},
        f"{name}Any": {"any": listed},
        f"{name}Not": {"not": itself},
    }
    components: dict[str, dict[str, Any]] = {
        component: {
            "type": "object",
            "properties": properties,
            "required": [*properties],
            "additionalProperties": False,
        }
        for component, properties in combinators.items()
    }
    components.update(_leaves(name, sources))
    components[name] = {
        "anyOf": [{"$ref": _REF + component} for component in [*combinators, f"{name}Leaf"]],
        "description": description,
        "x-max-depth": DEPTH_MAX,
        "x-max-leaves": LEAVES_MAX,
    }
    return components


_LIMITS = f"At most {DEPTH_MAX} levels deep and {LEAVES_MAX} leaves in all (docs/targeting.md)."
CONDITION = "Condition"
GOAL_CONDITION = "GoalCondition"
RULE = "TargetedRule"
QA_OVERRIDE = "QaOverride"


def components() -> dict[str, dict[str, Any]]:
    """Every schema component of the condition language, by name."""
    overrides = {
        f"{QA_OVERRIDE}{who.capitalize()}": {
            "type": "object",
            "properties": {
                who: {
                    "type": "string",
                    "format": FORMAT_PRINTABLE,
                    "minLength": 1,
                    "maxLength": QA_ID_MAX,
                },
                "variation": {"type": "string"},
            },
            "required": [who, "variation"],
            "additionalProperties": False,
        }
        for who in QA_WHO
    }
    found = {
        **_family(CONDITION, SOURCES, f"A condition: all, any, not, or a leaf. {_LIMITS}"),
        **_family(
            GOAL_CONDITION,
            GOAL_SOURCES,
            f"A goal's condition: as an agent's, without source random. {_LIMITS}",
        ),
        RULE: {
            "type": "object",
            "description": "A targeted selection: when `when` holds (null or omitted: "
            "always), the visitor gets `variation`, one of the agent's.",
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": RULE_NAME_MAX,
                    "pattern": NON_BLANK_PATTERN,
                },
                "when": _or_null(CONDITION),
                "variation": {"type": "string"},
            },
            "required": ["name", "variation"],
            "additionalProperties": False,
        },
        **overrides,
        QA_OVERRIDE: {
            "anyOf": [{"$ref": _REF + kind} for kind in overrides],
            "description": "That visitor (by session or by vid, each once) always gets "
            "`variation`, one of the agent's.",
        },
    }
    return found


def condition_field_schema(*, goal: bool = False, **extra: Any) -> dict[str, Any]:
    """The schema of a field that holds one condition or null (everyone)."""
    return {**_or_null(GOAL_CONDITION if goal else CONDITION), **extra}


def rules_field_schema(**extra: Any) -> dict[str, Any]:
    return {
        "type": "array",
        "nullable": True,
        "maxItems": RULES_MAX,
        "items": {"$ref": _REF + RULE},
        **extra,
    }


def qa_field_schema(**extra: Any) -> dict[str, Any]:
    return {
        "type": "array",
        "nullable": True,
        "maxItems": QA_MAX,
        "items": {"$ref": _REF + QA_OVERRIDE},
        **extra,
    }
