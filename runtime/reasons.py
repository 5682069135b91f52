"""Reason codes of the agent-api: why a whole request was refused (each with its HTTP
status), and the request-level warnings of an answered one (SPEC §4).

A refusal's code is what the metrics count (`runtime.metrics`) and what the install page's
recent requests show (`runtime.recent`): a fixed vocabulary, never anything a client sent.
"""

from typing import NamedTuple

from goals import diagnostics


class Refusal(NamedTuple):
    """Why a whole request was refused, and the HTTP status that says so."""

    code: str
    status: int


# 400: a query parameter or the body breaks a rule of SPEC §4 (the message names which)
BAD_REQUEST = Refusal("bad_request", 400)
BUNDLE_OF_REST_TARGET = Refusal("bundle_of_rest_target", 400)  # bundles are Express targets'
BATCH_OF_EXPRESS_TARGET = Refusal("batch_of_express_target", 403)  # goal-events: REST keys
KEY_MISSING = Refusal("key_missing", 401)
KEY_UNKNOWN = Refusal("key_unknown", 401)  # no such key, or no such account
WRONG_ACCOUNT = Refusal("wrong_account", 403)  # a key of another account
WRONG_TARGET = Refusal("wrong_target", 403)  # a key of another target than the URL's
TARGET_DISABLED = Refusal("target_disabled", 403)
ORIGIN_REFUSED = Refusal("origin_refused", 403)  # not an allowed origin of the target
# a vid sent to a REST target that may not pass one (its goals count in the diagnostics)
VID_NOT_ALLOWED = Refusal(diagnostics.VID_NOT_ALLOWED, 403)
METHOD_NOT_ALLOWED = Refusal("method_not_allowed", 405)
BODY_TOO_LARGE = Refusal("body_too_large", 413)
THROTTLED = Refusal("throttled", 429)
DATABASE_UNAVAILABLE = Refusal("database_unavailable", 503)
REFUSALS = (
    BAD_REQUEST,
    BUNDLE_OF_REST_TARGET,
    BATCH_OF_EXPRESS_TARGET,
    KEY_MISSING,
    KEY_UNKNOWN,
    WRONG_ACCOUNT,
    WRONG_TARGET,
    TARGET_DISABLED,
    ORIGIN_REFUSED,
    VID_NOT_ALLOWED,
    METHOD_NOT_ALLOWED,
    BODY_TOO_LARGE,
    THROTTLED,
    DATABASE_UNAVAILABLE,
)
# what a request that was not refused counts as
ANSWERED = "ok"
PREFLIGHT = "preflight"
OTHER = "other"  # a refusal of none of the above (a label's catch-all, never expected)

# request-level warnings of an answered request (`data.warnings[].reason`, SPEC §4)
VID_IGNORED = "vid_ignored"  # express target without "Allow Passing of External Visitor ID"
VID_INVALID = "vid_invalid"  # empty, too long, control characters or a placeholder
TRAITS_INVALID = "traits_invalid"
INPUTS_INVALID = "inputs_invalid"  # express target: malformed inputs (SPEC §4b)
T_IGNORED = "t_ignored"  # express target: a goal's `t` (a browser's clock is not trusted)
UA_INVALID = "ua_invalid"  # express target: a ua longer than 1,024 or not printable
