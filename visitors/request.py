"""What the agent-api asks of the domain (commands of one visitor) and what it gets back.

Plain dataclasses: the runtime parses a request into these, and renders the results.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from goals.diagnostics import CREDITED, NO_SELECTION
from goals.match_rate import Delay
from goals.reasons import BOT, STATUS_NONE, UNKNOWN_GOAL

_NOTHING: Mapping[str, str] = MappingProxyType({})
MAX_ID_LENGTH = 128  # of a session, a vid, an event id
VID_PLACEHOLDERS = frozenset({"undefined", "null", "none", "nan", "anonymous", "0"})


def printable_id(value: str) -> bool:
    """Whether `value` can be a session or an event id: 1 to 128 printable characters."""
    return 1 <= len(value) <= MAX_ID_LENGTH and value.isprintable()


def vid_problem(raw: str) -> str | None:
    """Return why an external visitor id is refused, or None when it is acceptable."""
    if raw == "":
        return "it is empty"
    if len(raw) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    if not raw.isprintable():
        return "it contains control characters"
    if raw.strip().lower() in VID_PLACEHOLDERS:
        return f"“{raw}” is a placeholder, not a visitor id"
    return None


def who_keys(session: str | None, vid: str | None) -> list[str]:
    """The keys a visitor is known by, in a batch's lookups of assignments and events:
    `s:<session>` and `v:<vid>`, each when there is one (`Visitor.identity` is one of them)."""
    return ([f"s:{session}"] if session else []) + ([f"v:{vid}"] if vid else [])


@dataclass(frozen=True)
class Visitor:
    """Who the commands are for. `vid` is set only when passed, valid and allowed.

    `traits` are `cust/group:value` (the query's) then `ua/...` (derived from the UA);
    `inputs` serve this request's conditions only; `bot` a UA that declares a crawler.
    """

    session: str
    vid: str | None = None
    traits: tuple[str, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=lambda: _NOTHING)
    bot: bool = False
    # the other ids of the person the vid belongs to (SPEC §4d), when a batch read them;
    # a request of one visitor resolves them in its read instead (`AssignmentRow.by_person`)
    linked: frozenset[str] = frozenset()

    def lookup_keys(self) -> list[str]:
        """`who_keys` of the visitor and of each id linked to its vid."""
        return who_keys(self.session, self.vid) + [f"v:{other}" for other in sorted(self.linked)]

    def trait_values(self) -> dict[str, str]:
        """Trait group -> value, as conditions read them (a group given twice: the first)."""
        values: dict[str, str] = {}
        for trait in self.traits:
            group, _, value = trait.partition(":")
            values.setdefault(group, value)
        return values

    @property
    def identity(self) -> str:
        """What the visitor is bucketed by: the external visitor id if any, else the session."""
        return f"v:{self.vid}" if self.vid else f"s:{self.session}"  # one of its who_keys


@dataclass(frozen=True)
class SelectionCommand:
    agent: str
    allow: tuple[str, ...] | None = None  # `c`: only these variations
    exclude: tuple[str, ...] = ()  # `x`: not these
    status: str | None = None  # `s`: "p" provisional, "ok" confirm, None plain


@dataclass(frozen=True)
class GoalCommand:
    goal: str
    value: float | None = None  # None: the default value 1
    event_id: str | None = None
    time: datetime | None = None  # `t`, when the goal happened (None: when it arrives)
    time_error: str = ""  # `t` was sent, but names no time: why (the item's invalid_time)


@dataclass(frozen=True)
class AliasCommand:
    """`{"alias": "Y"}`: link Y to the request's vid, one person from then (SPEC §4d)."""

    alias: str


Command = SelectionCommand | GoalCommand | AliasCommand


@dataclass
class SelectionResult:
    agent: str
    variation: str | None = None
    policy: str | None = None
    status: str | None = None
    md: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # set when no selection was made
    detail: str = ""
    log: str = ""  # its data.log line, where SPEC §4b words it (else made from the rest)
    warning: str | None = None  # a reason code for a selection made despite the command's c/x

    @property
    def selected(self) -> bool:
        return self.variation is not None


@dataclass
class AliasResult:
    """What became of an alias command: `ok` linked, `none` linked already, `err`."""

    alias: str
    status: str
    err: str | None = None
    detail: str = ""

    def item(self) -> dict[str, Any]:
        """Its item in the answer, in command order (with `detail` when refused)."""
        out: dict[str, Any] = {"alias": self.alias, "s": self.status}
        if self.err:
            out["err"], out["detail"] = self.err, self.detail
        return out


CONTEXT_KEY = "ctx"  # a stored answer's condition context (never part of an item)


@dataclass
class GoalResult:
    goal: str
    status: str
    err: str | None = None
    credited: list[dict[str, Any]] = field(default_factory=list)  # {"a", "c", "v"}
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"a", "c", "reason"}
    replay: bool = False
    bot: bool = False  # sent with a bot's User-Agent: nothing credited
    detail: str = ""
    time: str | None = None  # the event time used, as the item echoes it (`t`)
    # what the goal's condition read (inputs, traits), kept with the event so a replay
    # judges `goal_condition_false` again from the same facts; None: the goal has none
    context: dict[str, Any] | None = None
    # the time to convert (goals.match_rate): each credit's, and each skip's as
    # outside_window, hours after its assignment's confirmation; and the day it happened
    delays: list[Delay] = field(default_factory=list)
    happened_on: date | None = None
    link: AliasResult | None = None  # a batch event's alias, made before it was judged

    @property
    def found(self) -> bool | None:
        """For the match rate: whether an assignment of the visitor was found (credited or
        skipped); None for what is no match either way (a replay, an error, a bot)."""
        if self.replay or self.err or self.bot:
            return None
        return bool(self.credited or self.skipped)

    @property
    def no_selection(self) -> bool:
        """Accepted, but no agent tracking the goal holds a selection of this visitor."""
        return self.status == STATUS_NONE and not (
            self.err or self.credited or self.skipped or self.replay or self.bot
        )

    def outcomes(self) -> list[str]:
        """What became of it, for the goal diagnostics: credited, or each reason it was not.
        Nothing for a replay or an unknown goal: codes a client makes up cost nothing."""
        if self.replay or self.err == UNKNOWN_GOAL:
            return []  # a replay was counted the first time; an unknown goal has no page
        if self.err:
            return [self.err]
        if self.bot:
            return [BOT]
        found = [CREDITED] if self.credited else []
        found += [skip["reason"] for skip in self.skipped]
        return found or [NO_SELECTION]

    def to_record(self) -> dict[str, Any]:
        """The answer as stored for replays of the same event id."""
        record: dict[str, Any] = {"s": self.status, "rs": self.credited, "skipped": self.skipped}
        if self.time is not None:
            record["t"] = self.time
        if self.context is not None:
            record[CONTEXT_KEY] = self.context
        return record

    @classmethod
    def from_record(cls, goal: str, record: dict[str, Any]) -> "GoalResult":
        return cls(
            goal=goal,
            status=record.get("s", "none"),
            credited=list(record.get("rs", [])),
            skipped=list(record.get("skipped", [])),
            time=record.get("t"),
            replay=True,
            detail="replay of an event id already received: nothing recorded again",
        )


@dataclass
class ExecutionResult:
    items: list[SelectionResult | GoalResult | AliasResult]

    @property
    def log(self) -> list[str]:
        """A line per command explaining its decision (built only when asked: debug=true)."""
        return [_log_line(item) for item in self.items]


def _log_line(item: SelectionResult | GoalResult | AliasResult) -> str:
    if isinstance(item, AliasResult):
        return f"alias {item.alias}: {item.err or item.status}: {item.detail}"
    if isinstance(item, SelectionResult):
        if item.log:
            return item.log
        if item.selected:
            return (
                f"{item.agent}: {item.variation} (p={item.policy}, s={item.status}): {item.detail}"
            )
        return f"{item.agent}: no selection ({item.reason}): {item.detail}"
    if item.err:
        return f"{item.goal}: refused ({item.err}): {item.detail}"
    skipped = "; ".join(f"{s['a']}/{s['c']} skipped: {s['reason']}" for s in item.skipped)
    return f"{item.goal}: {item.status}: {item.detail}" + (f"; {skipped}" if skipped else "")


def goal_item(item: GoalResult, *, why_refused: bool = False) -> dict[str, Any]:
    """A goal's item as the agent-api answers it (SPEC §4); with `why_refused`, a refused
    goal's `detail` too (the batch's and the explanations' items)."""
    out: dict[str, Any] = {"g": item.goal, "s": item.status, "rs": item.credited}
    if item.err:
        out["err"] = item.err
    else:
        out["skipped"] = item.skipped
    if item.time is not None:
        out["t"] = item.time
    if item.replay:
        out["replay"] = True
    if why_refused and item.err:
        out["detail"] = item.detail
    if item.link is not None:
        out["link"] = item.link.item()
    return out
