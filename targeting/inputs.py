"""The request's `inputs` (SPEC §4b): what conditions of source `input` read.

At most `INPUTS_MAX_KEYS` keys of 1 to 64 `[A-Za-z0-9_.-]`, string values of at most
`INPUT_VALUE_MAX` characters. Inputs serve the request's conditions only: never stored.
"""

import re
from typing import Any

from accounts.codes import BAD_TEXT_RULE, text_ok
from targeting.conditions import INPUT_NAME_RE

INPUTS_MAX_KEYS = 50
INPUT_VALUE_MAX = 256
_KEY = re.compile(INPUT_NAME_RE)


def inputs_problem(inputs: Any) -> str | None:
    """Why `inputs` (as the JSON body holds it) is refused, or None when it is valid."""
    if not isinstance(inputs, dict):
        return '"inputs" must be an object of string values.'
    if len(inputs) > INPUTS_MAX_KEYS:
        return f'"inputs" holds at most {INPUTS_MAX_KEYS} keys, not {len(inputs)}.'
    for key, value in inputs.items():
        if not _KEY.match(key):
            shown = key[:40] if text_ok(key) else repr(key)[:40]
            return f'"inputs" key "{shown}" must be 1 to 64 of A-Z a-z 0-9 _ . -'
        if not isinstance(value, str) or len(value) > INPUT_VALUE_MAX:
            return f'"inputs"."{key}" must be a string of at most {INPUT_VALUE_MAX} characters.'
        if not text_ok(value):
            return f'"inputs"."{key}" must be {BAD_TEXT_RULE}.'
    return None
