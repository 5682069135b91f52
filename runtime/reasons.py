"""Codes of request-level warnings of the agent-api (SPEC §4)."""

VID_IGNORED = "vid_ignored"  # express target without "Allow Passing of External Visitor ID"
VID_INVALID = "vid_invalid"  # empty, too long, control characters or a placeholder
TRAITS_INVALID = "traits_invalid"
