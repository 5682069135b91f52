"""Codes of selections (SPEC §4): policies, statuses, and why a selection was not made."""

# `p` of a selection item
POLICY_RANDOM = "r"  # a new assignment
POLICY_STICKY = "s"  # a repeat of an earlier assignment
POLICY_PAUSED = "p"  # the agent is paused: its paused variation, nothing recorded
POLICY_FORCED = "f"  # a rule (targeted selection) or a QA override chose it
POLICY_BOT = "b"  # a bot: the variation a person would get, nothing recorded
POLICIES = (POLICY_RANDOM, POLICY_STICKY, POLICY_PAUSED, POLICY_FORCED, POLICY_BOT)

# `s` of a selection item
STATUS_OK = "ok"
STATUS_PROVISIONAL = "p"

# reasons in data.warnings for a selection command that produced no selection
UNKNOWN_AGENT = "unknown_agent"
AGENT_STOPPED = "agent_stopped"
AGENT_DRAFT = "agent_draft"  # a draft serves its QA overrides only (SPEC §6b)
OUTSIDE_SCHEDULE = "outside_schedule"  # running, but before its starts_at or from its ends_at
NOT_ON_THIS_TARGET = "not_on_this_target"
NO_ELIGIBLE_VARIATION = "no_eligible_variation"
NOT_ELIGIBLE = "not_eligible"  # the visitor does not meet the agent's eligibility (SPEC §4b)
OTHER_AGENT_IN_GROUP = "other_agent_in_group"  # its mutually exclusive group slots another

# a warning on a selection that was made: the command's c/x asked for another variation
# than the visitor's existing assignment, which is kept (a local decision the server
# overruled, SPEC §5: counted in the target's diagnostics)
ASSIGNMENT_KEPT = "assignment_kept"
