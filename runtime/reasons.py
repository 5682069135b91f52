"""Codes of request-level warnings of the agent-api (SPEC §4)."""

VID_IGNORED = "vid_ignored"  # express target without "Allow Passing of External Visitor ID"
VID_INVALID = "vid_invalid"  # empty, too long, control characters or a placeholder
TRAITS_INVALID = "traits_invalid"
INPUTS_INVALID = "inputs_invalid"  # express target: malformed inputs (SPEC §4b)
UA_INVALID = "ua_invalid"  # express target: a ua longer than 1,024 or not printable
