"""The client: a queue of goals, a background sender, and server-side selections."""

from __future__ import annotations

import atexit
import contextlib
import email.utils
import http.client
import json
import math
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Union

SEND_EVERY_SECONDS = 1.0  # a batch is posted at least this often while goals are queued
SEND_AT_GOALS = 100  # ... or as soon as this many are queued
MAX_QUEUE = 10_000  # goals held at most; `goal` raises QueueFullError past it
RETRY_FOR_SECONDS = 24 * 3600.0  # how long a batch is retried before its goals are given up
TIMEOUT_SECONDS = 10.0  # of one HTTP request
SELECT_TIMEOUT_SECONDS = 2.0  # of a selection, after which the fallback is answered
EXIT_FLUSH_SECONDS = 5.0  # what the process's exit waits for queued goals
BATCH_MAX_EVENTS = 1000  # the batch endpoint's limits (SPEC 4c)
BATCH_MAX_BYTES = 1024 * 1024
KEY_HEADER = "x-conductrics-apikey"
MAX_TEXT = 128  # characters of a goal code, a vid, a session, an event id
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 60.0
VERSION = "0.1.0"
USER_AGENT = f"conductrics-client-python/{VERSION}"

Timestamp = Union[datetime, int, float]  # an aware datetime, or seconds since the epoch


class QueueFullError(Exception):
    """`goal` found the queue full (the server has been unreachable for a while): the goal
    was not queued. Raise `max_queue`, or send fewer goals."""


class ClientClosedError(Exception):
    """`goal` was called on a client that was closed."""


@dataclass(frozen=True)
class Goal:
    """A goal as queued: what `goal` was given, its event id and its event time."""

    goal: str
    event_id: str
    at: str  # RFC 3339, UTC, milliseconds
    vid: str | None = None
    session: str | None = None
    value: float | None = None
    traits: str | None = None
    inputs: Mapping[str, str] | None = None

    def event(self) -> dict[str, Any]:
        """The event as the batch endpoint reads it."""
        out: dict[str, Any] = {"g": self.goal, "id": self.event_id, "t": self.at}
        for key, value in (
            ("vid", self.vid),
            ("session", self.session),
            ("v", self.value),
            ("traits", self.traits),
            ("inputs", dict(self.inputs) if self.inputs is not None else None),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class Verdict:
    """The server's verdict on one goal: `status` is `ok` (credited), `none` (nothing
    credited: `skipped` says why per agent) or `err` (refused: `err` names why). `replay`
    when the server had received this event id before (its first verdict, nothing counted
    again)."""

    goal: Goal
    status: str
    replay: bool
    credited: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    err: str | None
    detail: str | None
    item: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class SendError:
    """A goal the client could not deliver: `reason` is `refused` (the server answered a
    4xx other than 429: `status` and `detail` say which), `gave_up` (retried for
    `retry_for` seconds), `too_large` (the event alone is over the batch's size) or
    `not_sent` (still queued when `close` or `flush` ran out of time at exit)."""

    goal: Goal
    reason: str
    status: int | None = None
    detail: str = ""


VerdictCallback = Callable[[Verdict], None]
ErrorCallback = Callable[[SendError], None]


def _rfc3339(at: Timestamp | None) -> str:
    if at is None:
        moment = datetime.now(timezone.utc)
    elif isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at: a datetime with a time zone (datetime.now(timezone.utc))")
        moment = at.astimezone(timezone.utc)
    elif isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
        moment = datetime.fromtimestamp(at, timezone.utc)
    else:
        raise ValueError("at: an aware datetime or seconds since the epoch")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _text(name: str, value: Any, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT or not value.isprintable():
        raise ValueError(f"{name}: 1 to {MAX_TEXT} printable characters, got {value!r:.60}")
    return value


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if any."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """The wait before retry number `attempt` (1, 2, ...): exponential with full jitter,
    never shorter than what the server asked for in Retry-After."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1))
    wait = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret
    return max(wait, retry_after or 0.0)


class _Transient(Exception):
    """A failure worth retrying (connection, time-out, 429, 5xx)."""

    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class _Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Client:
    """Goals for the batch endpoint, sent in the background, and selections.

    `Client(base_url, account, api_key)` with a REST target's key; `target` names the
    deploy target when the URL should (else the key's own target is used). Thread-safe;
    after `os.fork()` the child starts with an empty queue and its own sender (the parent
    keeps and sends what was queued before the fork).
    """

    def __init__(
        self,
        base_url: str,
        account: str,
        api_key: str,
        *,
        target: str | None = None,
        send_every: float = SEND_EVERY_SECONDS,
        send_at: int = SEND_AT_GOALS,
        max_queue: int = MAX_QUEUE,
        retry_for: float = RETRY_FOR_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        select_timeout: float = SELECT_TIMEOUT_SECONDS,
        on_verdict: VerdictCallback | None = None,
        on_error: ErrorCallback | None = None,
        exit_flush: float = EXIT_FLUSH_SECONDS,
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"base_url: an http or https URL, got {base_url!r:.80}")
        if not 1 <= send_at <= BATCH_MAX_EVENTS:
            raise ValueError(f"send_at: 1 to {BATCH_MAX_EVENTS}")
        if max_queue < 1 or send_every <= 0 or timeout <= 0 or retry_for < 0:
            raise ValueError("max_queue, send_every and timeout must be positive")
        self._base = base_url.rstrip("/")
        self._account = urllib.parse.quote(account, safe="")
        self._target = urllib.parse.quote(target, safe="") if target else None
        self._key = api_key
        self.send_every, self.send_at, self.max_queue = send_every, send_at, max_queue
        self.retry_for, self.timeout, self.select_timeout = retry_for, timeout, select_timeout
        self.on_verdict, self.on_error = on_verdict, on_error
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._reset()
        self._closed = False
        self._exit_flush = exit_flush
        _CLIENTS.add(self)

    def _reset(self) -> None:
        """The lock, the queue and no sender yet: at creation, and in a forked child."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._queue: deque[Goal] = deque()
        self._in_flight = 0  # goals taken from the queue and not yet answered
        self._flush_asked = False
        self._stopping = False
        self._stop = threading.Event()  # set when close() stops waiting for the server
        self._sender: threading.Thread | None = None

    # --- goals ---------------------------------------------------------------------

    def goal(
        self,
        goal: str,
        *,
        vid: str | None = None,
        session: str | None = None,
        value: float | None = None,
        event_id: str | None = None,
        at: Timestamp | None = None,
        traits: str | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> Goal:
        """Queue a goal of the visitor `vid` (or `session`) and return at once.

        `event_id` makes a retry safe across processes (an order number, say); without
        one a random id is made, which makes the client's own retries safe. `at` is when
        the goal happened (an aware datetime or epoch seconds; default: now). Raises
        ValueError for bad arguments, QueueFullError when the queue is full,
        ClientClosedError after `close`.
        """
        _text("goal", goal, required=True)
        if vid is None and session is None:
            raise ValueError("vid or session: at least one is needed to find the visitor")
        _text("vid", vid)
        _text("session", session)
        _text("event_id", event_id)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"value: a finite number >= 0, got {value!r:.40}")
        queued = Goal(
            goal=goal,
            event_id=event_id or uuid.uuid4().hex,
            at=_rfc3339(at),
            vid=vid,
            session=session,
            value=value,
            traits=traits,
            inputs=inputs,
        )
        with self._lock:
            if self._closed:
                raise ClientClosedError("goal() after close()")
            if len(self._queue) >= self.max_queue:
                raise QueueFullError(
                    f"{len(self._queue)} goals queued (max_queue={self.max_queue}): "
                    "the server is not taking them"
                )
            self._queue.append(queued)
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_loop, name="conductrics-sender", daemon=True
                )
                self._sender.start()
            if len(self._queue) >= self.send_at:
                self._wake.notify()
        return queued

    @property
    def queued(self) -> int:
        """Goals not yet answered by the server (queued or being sent)."""
        with self._lock:
            return len(self._queue) + self._in_flight

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until the server answered it (or `timeout`
        seconds passed). True when nothing is left to send."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flush_asked = True
            self._wake.notify()
            while self._queue or self._in_flight:
                if self._sender is None or not self._sender.is_alive():
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
            return not (self._queue or self._in_flight)

    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued, stop the sender, and refuse later goals. True when every
        goal was answered; otherwise the goals left are reported to `on_error` as
        `not_sent`."""
        with self._lock:
            if self._closed:
                return not self._queue
            self._closed = True
        sent = self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._wake.notify()
            left = list(self._queue)
            self._queue.clear()
            sender = self._sender
        self._stop.set()
        if sender is not None:  # it reports what it was sending, or ends its request
            sender.join(self.timeout + 1)
        for goal in left:
            self._error(SendError(goal, "not_sent", detail="still queued when the client closed"))
        _CLIENTS.discard(self)
        return sent and not left

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the sender ----------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._lock:
                waited_from = time.monotonic()
                while not (
                    self._stopping
                    or self._flush_asked
                    or len(self._queue) >= self.send_at
                    or (self._queue and time.monotonic() - waited_from >= self.send_every)
                ):
                    self._wake.wait(self.send_every)
                if self._stopping and not self._queue:
                    self._idle.notify_all()
                    return
                if not self._queue:
                    self._flush_asked = False
                    self._idle.notify_all()
                    continue
                batch = [
                    self._queue.popleft() for _ in range(min(len(self._queue), BATCH_MAX_EVENTS))
                ]
                self._in_flight = len(batch)
                if not self._queue:
                    self._flush_asked = False
            try:
                self._deliver(batch)
            except Exception as exc:
                for goal in batch:
                    self._error(SendError(goal, "refused", detail=f"client error: {exc!r:.200}"))
            with self._lock:
                self._in_flight = 0
                self._idle.notify_all()

    def _deliver(self, batch: list[Goal]) -> None:
        """Post `batch`, split where it is over the size limit, retrying each part until
        it is answered or given up."""
        bodies = self._bodies(batch)
        for goals, body in bodies:
            self._post_until_answered(goals, body)

    def _bodies(self, batch: list[Goal]) -> list[tuple[list[Goal], bytes]]:
        body = json.dumps({"events": [g.event() for g in batch]}, separators=(",", ":")).encode()
        if len(body) <= BATCH_MAX_BYTES:
            return [(batch, body)]
        if len(batch) == 1:
            self._error(SendError(batch[0], "too_large", detail=f"{len(body)} bytes"))
            return []
        half = len(batch) // 2
        return self._bodies(batch[:half]) + self._bodies(batch[half:])

    def _post_until_answered(self, goals: list[Goal], body: bytes) -> None:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._post(self._path("goal-events"), body, self.timeout)
            except _Refused as refused:
                for goal in goals:
                    self._error(SendError(goal, "refused", refused.status, refused.detail))
                return
            except _Transient as failure:
                wait = backoff_seconds(attempt, failure.retry_after)
                if time.monotonic() + wait - started > self.retry_for:
                    for goal in goals:
                        self._error(SendError(goal, "gave_up", detail=str(failure)))
                    return
                if self._stop.wait(wait):  # close() ran out of time: stop retrying
                    for goal in goals:
                        self._error(SendError(goal, "not_sent", detail=str(failure)))
                    return
                continue
            self._verdicts(goals, answer)
            return

    def _verdicts(self, goals: list[Goal], answer: dict[str, Any]) -> None:
        items = answer.get("data", {}).get("items", [])
        for goal, item in zip(goals, sorted(items, key=lambda i: i.get("i", 0))):
            if self.on_verdict is None:
                continue
            verdict = Verdict(
                goal=goal,
                status=item.get("s", ""),
                replay=bool(item.get("replay")),
                credited=list(item.get("rs", [])),
                skipped=list(item.get("skipped", [])),
                err=item.get("err"),
                detail=item.get("detail"),
                item=item,
            )
            with contextlib.suppress(Exception):  # the caller's callback: its fault is its own
                self.on_verdict(verdict)

    def _error(self, error: SendError) -> None:
        if self.on_error is not None:
            with contextlib.suppress(Exception):  # the caller's callback
                self.on_error(error)

    # --- HTTP ----------------------------------------------------------------------

    def _path(self, endpoint: str, query: dict[str, str] | None = None) -> str:
        url = f"{self._base}/{self._account}/v3/{endpoint}"
        if self._target:
            url += f"/{self._target}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url

    def _post(self, url: str, body: bytes, timeout: float) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                KEY_HEADER: self._key,
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                answer = json.loads(response.read())
            if not isinstance(answer, dict):
                raise ValueError("the answer is not a JSON object")
            return answer
        except urllib.error.HTTPError as error:
            status = error.code
            retry_after = _retry_after(error.headers.get("Retry-After"))
            text = error.read()[:2000].decode("utf-8", "replace")
            error.close()
            if status in (408, 429) or status >= 500:
                raise _Transient(f"HTTP {status}", retry_after) from None
            try:
                detail = str(json.loads(text).get("err", text))
            except (ValueError, AttributeError):
                detail = text
            raise _Refused(status, detail) from None
        except (OSError, ValueError, http.client.HTTPException) as error:  # refused, reset,
            # timed out, an answer cut off or not HTTP
            raise _Transient(f"{type(error).__name__}: {error}") from None

    # --- selections ----------------------------------------------------------------

    def select(
        self,
        agent: str,
        *,
        session: str,
        fallback: str,
        vid: str | None = None,
        traits: str | None = None,
        inputs: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        """The variation of `agent` for this visitor, decided by the server; `fallback`
        on any failure (unreachable, slow past `timeout`, refused, agent not served)."""
        _text("agent", agent, required=True)
        _text("session", session, required=True)
        query = {"session": session}
        if vid is not None:
            query["vid"] = vid
        if traits is not None:
            query["traits"] = traits
        body: Any = [{"a": agent}]
        if inputs:
            body = {"commands": body, "inputs": dict(inputs)}
        try:
            answer = self._post(
                self._path("agent-api", query),
                json.dumps(body).encode(),
                self.select_timeout if timeout is None else timeout,
            )
            chosen = answer["data"]["sels"].get(agent)
        except (_Transient, _Refused, KeyError, TypeError, AttributeError):
            return fallback
        return chosen if isinstance(chosen, str) else fallback


# every open client, closed (its queue sent, for up to exit_flush seconds) when the
# process exits normally
_CLIENTS: weakref.WeakSet[Client] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    for client in list(_CLIENTS):
        client.close(client._exit_flush)


def _after_fork_in_child() -> None:
    """A forked child (a gunicorn worker, say) starts each client afresh: new locks (one
    may have been held by the parent's sender at the fork), an empty queue (the parent
    sends what it had queued) and no sender until its first goal."""
    for client in list(_CLIENTS):
        client._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
