"""An agent's targeting (SPEC §4b): eligibility, targeted selections (rules) and QA
overrides, checked as a whole before they are saved.

`agent_targeting_check` is the one check that the admin and the management API share; it
raises ConditionError with the path of the fault (`rules[2].variation: ...`).
"""

from collections.abc import Collection
from typing import Any

from accounts.codes import BAD_TEXT_RULE, text_ok
from targeting.conditions import (
    LEAVES_MAX,
    RULES_MAX,
    ConditionError,
    condition_check,
    key_shown,
    value_shown,
)

QA_MAX = 100
RULE_NAME_MAX = 200
QA_ID_MAX = 128
_RULE_KEYS = {"name", "when", "variation"}
QA_WHO = ("session", "vid")


def agent_targeting_check(
    *, eligibility: Any, rules: Any, qa: Any, variation_codes: Collection[str]
) -> None:
    """Raise ConditionError unless the three hold together for an agent whose variations
    are `variation_codes`: at most `RULES_MAX` rules, `LEAVES_MAX` leaves in all."""
    leaves = condition_check(eligibility, path="eligibility")
    if leaves > LEAVES_MAX:  # named where the leaves are
        raise ConditionError("eligibility", f"at most {LEAVES_MAX} leaves, not {leaves}")
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise ConditionError("rules", 'a list of {"name", "when", "variation"}')
    if len(rules) > RULES_MAX:
        raise ConditionError("rules", f"at most {RULES_MAX} rules, not {len(rules)}")
    for i, rule in enumerate(rules):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            raise ConditionError(path, 'a rule is {"name", "when", "variation"}')
        unknown = sorted(key_shown(k) for k in rule if k not in _RULE_KEYS)
        if unknown:
            raise ConditionError(f"{path}.{unknown[0]}", "unknown key")
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > RULE_NAME_MAX:
            raise ConditionError(f"{path}.name", f"a name of 1 to {RULE_NAME_MAX} characters")
        if not text_ok(name):
            raise ConditionError(f"{path}.name", BAD_TEXT_RULE)
        _variation_check(rule.get("variation"), path=f"{path}.variation", codes=variation_codes)
        leaves += condition_check(rule.get("when"), path=f"{path}.when")
    if leaves > LEAVES_MAX:
        raise ConditionError(
            "rules", f"at most {LEAVES_MAX} leaves in eligibility and rules together, not {leaves}"
        )
    _qa_check(qa, variation_codes=variation_codes)


def _variation_check(code: Any, *, path: str, codes: Collection[str]) -> None:
    if not isinstance(code, str) or code not in codes:
        shown = value_shown(code)
        raise ConditionError(
            path, f"{shown} is not a variation of this agent: one of {', '.join(codes)}"
        )


def _qa_check(qa: Any, *, variation_codes: Collection[str]) -> None:
    if qa is None:
        return
    if not isinstance(qa, list):
        raise ConditionError("qa", 'a list of {"session" or "vid", "variation"}')
    if len(qa) > QA_MAX:
        raise ConditionError("qa", f"at most {QA_MAX} overrides, not {len(qa)}")
    seen: set[tuple[str, str]] = set()
    for i, override in enumerate(qa):
        path = f"qa[{i}]"
        if not isinstance(override, dict):
            raise ConditionError(path, 'an override is {"session" or "vid", "variation"}')
        unknown = sorted(key_shown(k) for k in override if k not in (*QA_WHO, "variation"))
        if unknown:
            raise ConditionError(f"{path}.{unknown[0]}", "unknown key")
        who = [k for k in QA_WHO if k in override]
        if len(who) != 1:
            raise ConditionError(path, 'names one visitor: "session" or "vid"')
        value = override[who[0]]
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= QA_ID_MAX
            or not value.isprintable()
        ):
            raise ConditionError(f"{path}.{who[0]}", f"1 to {QA_ID_MAX} printable characters")
        if (who[0], value) in seen:
            raise ConditionError(f"{path}.{who[0]}", f"{who[0]} {value} has an override already")
        seen.add((who[0], value))
        _variation_check(override.get("variation"), path=f"{path}.variation", codes=variation_codes)
