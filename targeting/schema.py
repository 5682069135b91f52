"""The condition language of SPEC §4b as OpenAPI 3.0 schemas, built from the names and
limits `conditions.py` and `rules.py` check with, so the two cannot drift.

A schema states what one condition may be, exactly as `condition_check` decides it:
combinators unrolled to `DEPTH_MAX` levels (`Condition`, `ConditionLevel2`, …), and a leaf
whose name, operator and operand follow its source. What JSON Schema cannot state is in
the descriptions: at most `LEAVES_MAX` leaves in all, and a rule's or override's
variation being one of the agent's (a 400 names the path of the fault either way).
`tests/targeting/test_condition_schema.py` holds the schema to `condition_check`.
"""

from typing import Any

from accounts.api_base import FORMAT_PRINTABLE, NON_BLANK_PATTERN, TEXT_PATTERN
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


def _null(kind: str) -> dict:
    """OpenAPI 3.0's "null or absent" (the check takes null as not given)."""
    return {"type": kind, "nullable": True, "enum": [None]}


_TEXT = {"type": "string", "maxLength": VALUE_LENGTH_MAX, "pattern": TEXT_PATTERN}
_SINGLE_STRING_OPS = tuple(op for op in STRING_OPS if op not in LIST_OPS)


def _or_null(component: str) -> dict:
    """The component or null (OpenAPI 3.0 has no null type: `nullable` beside a `$ref` or
    an `allOf` of one is ignored by validators that follow the letter of 3.0.3)."""
    return {"anyOf": [{"$ref": _REF + component}, _null("object")]}


def _regex(python_pattern: str) -> str:
    """A pattern of conditions.py (`\\Z` ends it) as JSON Schema writes it (`$`)."""
    return python_pattern.removesuffix(r"\Z") + "$"


def _absent(*keys: str) -> dict:
    return {"not": {"anyOf": [{"required": [key]} for key in keys]}}


def _by_source(sources: tuple[str, ...]) -> list[dict]:
    named = [s for s in sources if s in NAME_RES]
    unnamed = [s for s in sources if s not in NAME_RES]
    variants = [
        {
            "properties": {
                "source": {"enum": [s]},
                "name": {"type": "string", "pattern": _regex(NAME_RES[s])},
            },
            "required": ["name"],
        }
        for s in named
    ]
    if unnamed:
        variants.append({"properties": {"source": {"enum": unnamed}, "name": _null("string")}})
    return variants


def _by_operator(sources: tuple[str, ...]) -> list[dict]:
    others = [s for s in sources if s != SOURCE_GOAL]
    plain = {"source": {"enum": others}, "within_hours": _null("integer")}
    variants = [
        {
            "properties": {**plain, "op": {"enum": list(LIST_OPS)}, "ci": {"type": "boolean",
                                                                         "nullable": True}},
            "required": ["values"],
            **_absent("value"),
        },
        {
            "properties": {**plain, "op": {"enum": list(_SINGLE_STRING_OPS)}, "value": _TEXT,
                           "ci": {"type": "boolean", "nullable": True}},
            "required": ["value"],
            **_absent("values"),
        },
        {
            "properties": {
                **plain,
                "op": {"enum": list(NUMBER_OPS)},
                "ci": _null("boolean"),
                "value": {"anyOf": [{"type": "number"},
                                    {"type": "string", "pattern": _regex(NUMBER_RE)}]},
            },
            "required": ["value"],
            **_absent("values"),
        },
        {
            "properties": {**plain, "op": {"enum": list(PRESENCE_OPS)}, "ci": _null("boolean")},
            **_absent("value", "values"),
        },
    ]  # fmt: skip
    if SOURCE_GOAL in sources:
        variants.append(
            {
                "properties": {
                    "source": {"enum": [SOURCE_GOAL]},
                    "op": {"enum": list(GOAL_OPS)},
                    "ci": _null("boolean"),
                    "within_hours": {"type": "integer", "nullable": True, "minimum": 1,
                                     "maximum": WITHIN_HOURS_MAX},
                },
                **_absent("value", "values"),
            }
        )  # fmt: skip
    return variants


def _leaf(sources: tuple[str, ...]) -> dict:
    return {
        "type": "object",
        "description": "A leaf: what one source says of the visitor, compared by `op`.",
        "properties": {
            "source": {"type": "string", "enum": list(sources)},
            "name": {"type": "string", "nullable": True},
            "op": {"type": "string"},
            "value": {},
            "values": {"type": "array", "minItems": 1, "maxItems": VALUES_MAX, "items": _TEXT},
            "ci": {"type": "boolean", "nullable": True},
            "within_hours": {"type": "integer", "nullable": True},
        },
        "required": ["source", "op"],
        "additionalProperties": False,
        "allOf": [{"anyOf": _by_source(sources)}, {"anyOf": _by_operator(sources)}],
    }


def _level(name: str, depth: int) -> str:
    return name if depth == 1 else f"{name}Level{depth}"


def _family(name: str, sources: tuple[str, ...], description: str) -> dict[str, dict]:
    """`name` (depth 1) to `nameLevel{DEPTH_MAX}`, each a combinator of the next or a leaf."""
    leaf = f"{name}Leaf"
    components: dict[str, dict] = {leaf: _leaf(sources)}
    for depth in range(DEPTH_MAX, 0, -1):
        choices = [{"$ref": _REF + leaf}]
        if depth < DEPTH_MAX:
            inner = {"$ref": _REF + _level(name, depth + 1)}
            listed = {"type": "array", "minItems": 1, "items": inner}
            choices = [
                *({"type": "object", "properties": {key: listed}, "required": [key],
                   "additionalProperties": False} for key in ("all", "any")),
                {"type": "object", "properties": {"not": inner}, "required": ["not"],
                 "additionalProperties": False},
                *choices,
            ]  # fmt: skip
        components[_level(name, depth)] = {
            "anyOf": choices,
            **({"description": description} if depth == 1 else {}),
        }
    return components


_LIMITS = f"At most {DEPTH_MAX} levels deep and {LEAVES_MAX} leaves in all (SPEC §4b)."
CONDITION = "Condition"
GOAL_CONDITION = "GoalCondition"
RULE = "TargetedRule"
QA_OVERRIDE = "QaOverride"


def components() -> dict[str, dict]:
    """Every schema component of the condition language, by name."""
    found = {
        **_family(CONDITION, SOURCES, f"A condition: all, any, not, or a leaf. {_LIMITS}"),
        **_family(
            GOAL_CONDITION, GOAL_SOURCES,
            f"A goal's condition: as an agent's, without source random. {_LIMITS}",
        ),
        RULE: {
            "type": "object",
            "description": "A targeted selection: when `when` holds (null or omitted: "
            "always), the visitor gets `variation`, one of the agent's.",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": RULE_NAME_MAX,
                         "pattern": NON_BLANK_PATTERN},
                "when": _or_null(CONDITION),
                "variation": {"type": "string"},
            },
            "required": ["name", "variation"],
            "additionalProperties": False,
        },
        QA_OVERRIDE: {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {
                        who: {"type": "string", "format": FORMAT_PRINTABLE, "minLength": 1,
                              "maxLength": QA_ID_MAX},
                        "variation": {"type": "string"},
                    },
                    "required": [who, "variation"],
                    "additionalProperties": False,
                }
                for who in QA_WHO
            ],
            "description": "That visitor (by session or by vid, each once) always gets "
            "`variation`, one of the agent's.",
        },
    }  # fmt: skip
    return found


def condition_field_schema(*, goal: bool = False, **extra: Any) -> dict:
    """The schema of a field that holds one condition or null (everyone)."""
    return {**_or_null(GOAL_CONDITION if goal else CONDITION), **extra}


def rules_field_schema(**extra: Any) -> dict:
    return {"type": "array", "nullable": True, "maxItems": RULES_MAX,
            "items": {"$ref": _REF + RULE}, **extra}  # fmt: skip


def qa_field_schema(**extra: Any) -> dict:
    return {"type": "array", "nullable": True, "maxItems": QA_MAX,
            "items": {"$ref": _REF + QA_OVERRIDE}, **extra}  # fmt: skip
