"""Parsing an agent-api request: query parameters and body, checked before anything runs.

`request_parse` is the one entry: it returns the visitor, the commands and the request's
warnings, or raises AgentApiError (400/403/413) with a message naming the offending
parameter, command and field. The rules of SPEC §4: a malformed vid or traits is a 400 on
a REST target and ignored with a warning on an Express one (a page must never break); a
vid on a target that does not allow passing it is a 403 on REST, ignored on Express.
"""

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from django.http import QueryDict

from accounts.codes import BAD_TEXT_RULE, text_ok
from goals.event_time import T_RULE, event_time_parse
from runtime import reasons
from runtime.errors import AgentApiError
from targeting.inputs import inputs_problem
from targeting.traits import TRAITS_RULE, traits_parse
from targeting.useragent import UA_LENGTH_MAX, ua_problem, ua_traits
from targets.models import ALLOW_EXTERNAL_VID_LABEL
from visitors.batch import BadEvent, BatchEvent, event_of
from visitors.config import TargetConf
from visitors.request import (
    AliasCommand,
    Command,
    GoalCommand,
    SelectionCommand,
    Visitor,
    printable_id,
    vid_problem,
)

MAX_BODY_BYTES = 64 * 1024
Warnings = list[dict[str, str | None]]  # the request's warnings, as `data.warnings` lists them
MAX_COMMANDS = 100
SELECTION_STATUSES = ("p", "ok")
COMMAND_KEYS = ("a", "g", "alias")  # what a command is: exactly one of them


def session_parse(raw: str | None) -> str:
    """Return the session id, or raise 400 when missing or malformed."""
    if raw is None or raw == "":
        raise AgentApiError(
            reasons.BAD_REQUEST, "The query parameter session is required (1 to 128 characters)."
        )
    if not printable_id(raw):
        raise AgentApiError(
            reasons.BAD_REQUEST,
            "The query parameter session must be 1 to 128 printable characters.",
        )
    return raw


@dataclass(frozen=True)
class Body:
    commands: list[Command]
    inputs: Any  # as sent: checked by `request_parse`, which knows the target


def body_size_check(content_length: str | None, limit: int = MAX_BODY_BYTES) -> None:
    """Raise 413 when the body's announced size is over `limit` (checked before the key,
    and before the body is read: Django reads at most the announced size)."""
    length = content_length or "0"
    if length.isdigit() and int(length) > limit:
        raise AgentApiError(reasons.BODY_TOO_LARGE, f"The body is larger than {limit} bytes.")


def body_parse(raw: bytes) -> Body:
    """Parse the JSON body (whatever its Content-Type) into commands, or raise 400."""
    if not raw.strip():
        return Body(commands=[], inputs={})
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise AgentApiError(
            reasons.BAD_REQUEST,
            'The body is not valid JSON: send {"commands": [...]} or a list of commands.',
        ) from None
    inputs: Any = {}
    if isinstance(data, dict):
        if "commands" not in data:
            raise AgentApiError(reasons.BAD_REQUEST, 'The body is an object without "commands".')
        inputs = data.get("inputs", {})
        data = data["commands"]
    if not isinstance(data, list):
        raise AgentApiError(reasons.BAD_REQUEST, '"commands" must be a list of commands.')
    if len(data) > MAX_COMMANDS:
        raise AgentApiError(
            reasons.BAD_REQUEST,
            f"Too many commands: {len(data)}; at most {MAX_COMMANDS} per request.",
        )
    return Body(commands=[_command(i, c) for i, c in enumerate(data)], inputs=inputs)


def _fail(index: int, message: str) -> AgentApiError:
    return AgentApiError(reasons.BAD_REQUEST, f"Command {index}: {message}")


def _code(index: int, command: dict[str, Any], key: str) -> str:
    value = command[key]
    if not isinstance(value, str) or not value:
        raise _fail(index, f'"{key}" must be a non-empty string.')
    if not text_ok(value):
        raise _fail(index, f'"{key}" must be {BAD_TEXT_RULE}.')
    return value


def _codes(index: int, command: dict[str, Any], key: str) -> tuple[str, ...] | None:
    if key not in command or command[key] is None:
        return None
    value = command[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(index, f'"{key}" must be a list of variation codes.')
    if not all(text_ok(v) for v in value):
        raise _fail(index, f'"{key}" must hold {BAD_TEXT_RULE}.')
    return tuple(value)


def _number(index: int, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(index, '"v" must be a number.')
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf  # refused later as the goal item's invalid_value
    return value


def _command(index: int, command: Any) -> Command:
    if not isinstance(command, dict):
        raise _fail(index, 'a command is an object such as {"a": "a-hero"} or {"g": "g-buy"}.')
    kinds = [key for key in COMMAND_KEYS if key in command]
    if len(kinds) != 1:
        raise _fail(
            index,
            'a command is a selection (with "a"), a goal (with "g") or an alias (with '
            '"alias"): one of them.',
        )
    if "alias" in command:
        alias = command["alias"]
        if not isinstance(alias, str):
            raise _fail(index, '"alias" must be a string (a visitor id).')
        if not text_ok(alias):
            raise _fail(index, f'"alias" must be {BAD_TEXT_RULE}.')
        return AliasCommand(alias=alias)
    if "a" in command:
        status = command.get("s")
        if status is not None and status not in SELECTION_STATUSES:
            raise _fail(index, '"s" must be "p" (provisional) or "ok" (confirm).')
        return SelectionCommand(
            agent=_code(index, command, "a"),
            allow=_codes(index, command, "c"),
            exclude=_codes(index, command, "x") or (),
            status=status,
        )
    event_id = command.get("id")
    if event_id is not None and (not isinstance(event_id, str) or not printable_id(event_id)):
        raise _fail(index, '"id" must be a string of 1 to 128 printable characters.')
    time, time_error = _time(index, command.get("t"))
    return GoalCommand(
        goal=_code(index, command, "g"),
        value=_number(index, command.get("v")),
        event_id=event_id,
        time=time,
        time_error=time_error,
    )


def _time(index: int, raw: object) -> tuple[datetime | None, str]:
    """`t`: the time it names, or why it names none (the goal item's `invalid_time`); a
    `t` of another JSON type than a string or a number is a 400, like any wrong type."""
    if raw is None:
        return None, ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _fail(index, f'"t" must be {T_RULE}.')
    at = event_time_parse(raw)
    return (at, "") if at is not None else (None, f"t must be {T_RULE}")


def _goal_times_ignored(commands: list[Command], warnings: Warnings) -> list[Command]:
    """An Express target's goals without their `t` (a browser's clock is not trusted),
    each noted in the warnings: the arrival time is used."""
    kept: list[Command] = []
    for command in commands:
        if isinstance(command, GoalCommand) and (command.time or command.time_error):
            command = replace(command, time=None, time_error="")
            warnings.append(
                {
                    "reason": reasons.T_IGNORED,
                    "g": command.goal,
                    "detail": "t is ignored on an Express target (a browser's clock is not "
                    "trusted): the arrival time is used",
                }
            )
        kept.append(command)
    return kept


class VidRefused(AgentApiError):
    """403: a vid sent to a REST target that may not pass one. `goals` are the codes of
    the request's goal commands (when its body parsed), for the goal diagnostics."""

    def __init__(self, message: str, goals: tuple[str, ...]) -> None:
        super().__init__(reasons.VID_NOT_ALLOWED, message)
        self.goals = goals


@dataclass(frozen=True)
class ParsedRequest:
    visitor: Visitor  # its inputs and traits (the request's own, then those of its UA)
    commands: list[Command]
    derived_traits: tuple[str, ...]  # the `ua/` traits added, for data.log
    warnings: Warnings
    debug: bool


def request_parse(
    *, params: QueryDict, body: bytes, target: TargetConf, user_agent: str | None = None
) -> ParsedRequest:
    """Parse an agent-api request arriving on `target`, in the order of SPEC §4's refusals.

    `user_agent` is the request's User-Agent header: the visitor's UA on an Express target
    when the query has no `ua` (on a REST target it is the customer's server: unused).
    """
    warnings: Warnings = []
    session = session_parse(params.get("session"))
    try:  # parsed once, its refusal raised in SPEC §4's order (a refused vid's goals first)
        parsed, body_refused = body_parse(body), None
    except AgentApiError as exc:
        parsed, body_refused = None, exc
    vid = _vid(params, target, warnings, parsed)
    traits = _traits(params, target, warnings)
    ua = _ua(params, target, warnings, user_agent)
    debug = _debug(params.get("debug"))
    if parsed is None:
        assert body_refused is not None  # noqa: S101 - set with it
        raise body_refused
    inputs = _inputs(parsed.inputs, target, warnings)
    derived, bot = ua_traits(ua)
    commands = _goal_times_ignored(parsed.commands, warnings) if target.is_express else None
    return ParsedRequest(
        visitor=Visitor(session=session, vid=vid, traits=traits + derived, inputs=inputs, bot=bot),
        commands=parsed.commands if commands is None else commands,
        derived_traits=derived,
        warnings=warnings,
        debug=debug,
    )


def _inputs(inputs: Any, target: TargetConf, warnings: Warnings) -> MappingProxyType[str, Any]:
    if inputs is None or inputs == {}:
        return _NO_INPUTS
    if isinstance(inputs, dict) and not all(
        text_ok(k) and (not isinstance(v, str) or text_ok(v)) for k, v in inputs.items()
    ):  # SPEC §10: text that is not valid Unicode is a 400 on any target
        raise AgentApiError(reasons.BAD_REQUEST, f'"inputs" must hold {BAD_TEXT_RULE}.')
    problem = inputs_problem(inputs)
    if problem is None:
        return MappingProxyType(dict(inputs))
    if not target.is_express:
        raise AgentApiError(reasons.BAD_REQUEST, problem)
    warnings.append({"reason": reasons.INPUTS_INVALID, "detail": f"inputs ignored: {problem}"})
    return _NO_INPUTS


_NO_INPUTS: MappingProxyType[str, Any] = MappingProxyType({})
UA_RULE = f"ua must be 1 to {UA_LENGTH_MAX} printable characters."


def _ua(
    params: QueryDict, target: TargetConf, warnings: Warnings, header: str | None
) -> str | None:
    raw = params.get("ua")
    if raw is None:
        if target.is_express and header and ua_problem(header) is None:
            return header
        return None
    if ua_problem(raw) is None:
        return raw
    if not target.is_express:
        raise AgentApiError(reasons.BAD_REQUEST, f"The query parameter {UA_RULE}")
    warnings.append({"reason": reasons.UA_INVALID, "detail": f"ua ignored: {UA_RULE}"})
    return None


def _vid(
    params: QueryDict, target: TargetConf, warnings: Warnings, body: Body | None
) -> str | None:
    if "vid" not in params:
        return None
    raw = params.get("vid", "")
    problem = vid_problem(raw)
    if problem:
        if not target.is_express:
            raise AgentApiError(
                reasons.BAD_REQUEST, f"The query parameter vid is refused: {problem}."
            )
        warnings.append(
            {"reason": reasons.VID_INVALID, "detail": f"vid ignored: {problem}; served by session."}
        )
        return None
    if not target.allow_external_vid:
        message = (
            f"Deploy target {target.code} does not allow passing an External Visitor ID: "
            f"enable “{ALLOW_EXTERNAL_VID_LABEL}” (Data Passing) on {target.code}."
        )
        if not target.is_express:
            goals = body.commands if body else ()  # none when the body does not parse
            raise VidRefused(
                message, goals=tuple(c.goal for c in goals if isinstance(c, GoalCommand))
            )
        warnings.append({"reason": reasons.VID_IGNORED, "detail": message + " Served by session."})
        return None
    return raw


def _traits(params: QueryDict, target: TargetConf, warnings: Warnings) -> tuple[str, ...]:
    raw = params.get("traits")
    if raw is None:
        return ()
    traits = traits_parse(raw)
    if traits is None:
        if not target.is_express:
            raise AgentApiError(reasons.BAD_REQUEST, f"The query parameter {TRAITS_RULE}")
        warnings.append(
            {"reason": reasons.TRAITS_INVALID, "detail": f"traits ignored: {TRAITS_RULE}"}
        )
        return ()
    return traits


def _debug(raw: str | None) -> bool:
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() == "true":
        return True
    raise AgentApiError(reasons.BAD_REQUEST, "The query parameter debug must be true or false.")


# --- the batch endpoint (SPEC §4c): POST /{account}/v3/goal-events -------------------

MAX_EVENTS = 1000
MAX_BATCH_BYTES = 1024 * 1024


def events_parse(raw: bytes) -> list[BatchEvent | BadEvent]:
    """The events of a batch body `{"events": [...]}`, each checked on its own: a bad one
    is a `BadEvent`, the others are judged. A body that is not such an object, or holds
    more than `MAX_EVENTS`, is a 400 (nothing is recorded)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise AgentApiError(
            reasons.BAD_REQUEST, 'The body is not valid JSON: send {"events": [...]}.'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise AgentApiError(reasons.BAD_REQUEST, 'The body must be an object {"events": [...]}.')
    unknown = sorted(k for k in data if k != "events")
    if unknown:
        raise AgentApiError(reasons.BAD_REQUEST, f"Unknown key in the body: {unknown[0][:40]!r}.")
    events = data["events"]
    if len(events) > MAX_EVENTS:
        raise AgentApiError(
            reasons.BAD_REQUEST, f"Too many events: {len(events)}; at most {MAX_EVENTS}."
        )
    return [event_of(raw_event) for raw_event in events]
