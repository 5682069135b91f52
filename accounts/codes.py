"""Codes of SPEC §2: their shapes, validators, and generation from a name."""

import re
import secrets
from collections.abc import Callable

from django.core.validators import RegexValidator
from django.utils.text import slugify

ACCOUNT_CODE_RE = r"^ac-[a-z0-9-]{1,40}\Z"
TARGET_CODE_RE = r"^dt-[a-zA-Z0-9-]{1,40}\Z"
GOAL_CODE_RE = r"^g-[a-zA-Z0-9-]{1,40}\Z"
AGENT_CODE_RE = r"^a-[a-zA-Z0-9-]{1,40}\Z"
VARIATION_CODE_RE = r"^[A-Za-z0-9_-]{1,32}\Z"
GROUP_CODE_RE = r"^mx-[a-zA-Z0-9-]{1,40}\Z"

validate_account_code = RegexValidator(
    ACCOUNT_CODE_RE,
    "An account code is “ac-” followed by 1 to 40 lower-case letters, digits or dashes.",
    code="invalid_code",
)
validate_target_code = RegexValidator(
    TARGET_CODE_RE,
    "A deploy target code is “dt-” followed by 1 to 40 letters, digits or dashes.",
    code="invalid_code",
)
validate_goal_code = RegexValidator(
    GOAL_CODE_RE,
    "A goal code is “g-” followed by 1 to 40 letters, digits or dashes.",
    code="invalid_code",
)
validate_agent_code = RegexValidator(
    AGENT_CODE_RE,
    "An agent code is “a-” followed by 1 to 40 letters, digits or dashes.",
    code="invalid_code",
)
validate_group_code = RegexValidator(
    GROUP_CODE_RE,
    "A mutually exclusive group's code is “mx-” followed by 1 to 40 letters, digits or dashes.",
    code="invalid_code",
)
validate_variation_code = RegexValidator(
    VARIATION_CODE_RE,
    "A variation code is 1 to 32 letters, digits, underscores or dashes.",
    code="invalid_code",
)

_ACCOUNT_CODE = re.compile(ACCOUNT_CODE_RE)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
BAD_TEXT_RULE = "valid Unicode text (no NUL, no lone surrogate)"


def text_ok(value: str) -> bool:
    """Whether `value` can be stored, compared and rendered: no NUL, no lone surrogate."""
    return _BAD_TEXT.search(value) is None


def account_code_well_formed(code: str) -> bool:
    """Whether `code` has an account code's shape (so it can name an account at all)."""
    return _ACCOUNT_CODE.match(code) is not None


_BODY_MAX = 40


def code_generate(*, prefix: str, name: str, is_taken: Callable[[str], bool]) -> str:
    """Return a free code `prefix` + a slug of `name` (lower-case), made unique by a suffix.

    `is_taken(code)` tells whether a code is already used in the account.
    Falls back to random characters when the name has nothing usable.
    """
    body = re.sub(r"-+", "-", slugify(name).replace("_", "-")).strip("-")[:_BODY_MAX]
    if not body:
        body = secrets.token_hex(4)
    candidate = f"{prefix}{body}"
    n = 2
    while is_taken(candidate):
        suffix = f"-{n}"
        candidate = f"{prefix}{body[: _BODY_MAX - len(suffix)]}{suffix}"
        n += 1
    return candidate


DUPLICATE_CODE = "duplicate_code"  # the error code of a code already used (the API's 409)


def code_validate_free(*, taken: bool, code: str, label: str) -> None:
    """Raise a ValidationError on `code` when it is already used in the account.

    The database's unique constraint remains the guard under concurrency; this gives the
    usual case a message on the right field.
    """
    from django.core.exceptions import ValidationError

    if taken:
        message = f"A {label} with code “{code}” already exists in this account."
        raise ValidationError({"code": ValidationError(message, code=DUPLICATE_CODE)})


# String formats the schema names for rules a pattern cannot state exactly (Python's
# Unicode tables, URL parsing); the view checks each with the domain's own function.
FORMAT_PRINTABLE = "printable"  # str.isprintable(): a session, an event id, a QA id
FORMAT_VISITOR_ID = "visitor-id"  # printable, and not a placeholder such as "null"
FORMAT_ORIGIN = "origin"  # scheme://host[:port], http or https
# text as `text_ok` takes it: no NUL (nor a lone surrogate, which tools can neither match
# nor send as UTF-8, so the schema leaves it to the description)
TEXT_PATTERN = r"^[^\x00]*$"
# the characters str.strip(), and so DRF's trimming, takes for whitespace, spelled out: a
# regex's \s is another set in each language (ECMA 262's holds U+FEFF, not U+001C to U+001F
# nor U+0085)
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# a text with one character that is not whitespace, and no NUL
NON_BLANK_PATTERN = rf"^[^\x00]*[^\x00{_WHITESPACE}][^\x00]*$"
