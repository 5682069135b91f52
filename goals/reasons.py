"""Codes of goals (SPEC §4): item statuses, refusals, and why an agent was not credited."""

STATUS_OK = "ok"  # credited to at least one agent
STATUS_NONE = "none"  # nothing credited
STATUS_ERR = "err"  # refused as a whole

# `err` of a refused goal item
UNKNOWN_GOAL = "unknown_goal"
NOT_AN_API_GOAL = "not_an_api_goal"
INVALID_VALUE = "invalid_value"
SERVER_ONLY_GOAL = "server_only_goal"  # accepted from servers only, sent from a page
EVENT_ID_TAKEN = "event_id_taken"  # the event id was sent by another visitor first
INVALID_EVENT = "invalid_event"  # a batch's event of the wrong shape (SPEC §4c)
INVALID_TIME = "invalid_time"  # `t` in the future, before 2000, past retention, or no time

# `reason` of a `skipped` entry
OUTSIDE_WINDOW = "outside_window"
ALREADY_CREDITED = "already_credited"
AGENT_NOT_RUNNING = "agent_not_running"
REST_SEND_NOT_ENABLED = "rest_send_not_enabled"
PROVISIONAL = "provisional"
GOAL_BEFORE_SELECTION = "goal_before_selection"
GOAL_CONDITION_FALSE = "goal_condition_false"  # the goal's `when` is false (SPEC §4b)

# in data.warnings: a goal that found no selection of this visitor in any agent tracking it
NO_SELECTION = "no_selection"

# in data.warnings: a goal sent with a bot's User-Agent, which credits nothing (SPEC §4b)
BOT = "bot"

# Each reason in words, where a person reads it (the admin's goal events, diagnostics)
WORDS = {
    OUTSIDE_WINDOW: "the selection is older than the attribution window",
    ALREADY_CREDITED: "this visitor was already credited with this goal in this agent",
    AGENT_NOT_RUNNING: "the agent was paused or stopped when the goal happened",
    REST_SEND_NOT_ENABLED: "sent via REST for an Express selection, without REST sending on",
    PROVISIONAL: "the selection was never confirmed",
    GOAL_BEFORE_SELECTION: "the goal is dated before the selection",
    GOAL_CONDITION_FALSE: "the goal's condition was false",
    NO_SELECTION: "no selection of this visitor in any agent tracking the goal",
    UNKNOWN_GOAL: "no such goal",
    NOT_AN_API_GOAL: "a page-event goal sent to a REST target",
    INVALID_VALUE: "the value is not a number from 0 to 10^12",
    SERVER_ONLY_GOAL: "a goal accepted from servers only, sent from a page (an Express target)",
    EVENT_ID_TAKEN: "its event id was already sent by another visitor",
    INVALID_EVENT: "an event of a batch of the wrong shape (the answer names the field)",
    INVALID_TIME: "its time (t) is in the future, before 2000, older than retention, or no time",
    BOT: "sent with a crawler's User-Agent",
}
