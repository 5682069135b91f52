"""Notes held in a process and written together: "note in memory, flush every N seconds".

What a request notes on the side (goal diagnostics, the install page's recent requests)
must never cost it a statement of its own: a `FlushBuffer` keeps the notes under a lock
and hands them to its writer at most every `every()` seconds (0: at each note), outside
the lock, so a slow write never holds up another request's note. The clock is injected
(`time.monotonic` by default), and every buffer of the process can be emptied and made
due at once (`buffers_reset`, for tests).

Notes never wait for the next request: once a process holds some, a timer thread of its
own (started with the first note held, in each process, so after a fork too) writes them
when due, and the process writes what it holds when it exits (`buffers_flush`: at exit,
and from gunicorn's `worker_exit`). A worker that gets no more requests still shows its
counts within `every()` seconds.
"""

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections

S = TypeVar("S")

_ALL: "weakref.WeakSet[FlushBuffer]" = weakref.WeakSet()
TIMER_MIN_SECONDS = 0.1  # the timer's shortest sleep


class FlushBuffer(Generic[S]):
    """A state made by `empty()`, changed by `add`, handed to `write` when due.

    `write` gets the state that was held (never an empty one) and must not raise: a
    writer that cannot write drops what it got, so notes never pile up in memory.
    """

    def __init__(
        self,
        *,
        empty: Callable[[], S],
        write: Callable[[S], None],
        every: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._empty, self._write, self._every, self.clock = empty, write, every, clock
        self._state = empty()
        self._due_at = 0.0
        self._lock = threading.Lock()
        self._timer_pid = 0  # the process whose timer runs (none after a fork)
        _ALL.add(self)

    def add(self, note: Callable[[S], None]) -> None:
        """Apply `note` to the held state; write everything held when it is due."""
        with self._lock:
            note(self._state)
            due = self.clock() >= self._due_at
        if due:
            self.flush()
        elif self._timer_pid != os.getpid():
            self._timer_start()

    def _timer_start(self) -> None:
        with self._lock:
            if self._timer_pid == os.getpid():
                return
            self._timer_pid = os.getpid()
        threading.Thread(target=self._timer, name="flush-buffer", daemon=True).start()

    def _timer(self) -> None:
        """Write what is held once it is due, though no note comes to write it."""
        while True:
            time.sleep(max(self._every(), TIMER_MIN_SECONDS))
            if self._state and self.clock() >= self._due_at:
                try:
                    self.flush()
                finally:
                    connections.close_all()  # this thread's own: none kept open between

    def flush(self) -> None:
        """Write what is held now, and hold the next notes for `every()` seconds."""
        with self._lock:
            state, self._state = self._state, self._empty()
            self._due_at = self.clock() + self._every()
        if state:
            self._write(state)

    def peek(self) -> S:
        """The state held now (read it, don't change it)."""
        return self._state

    def make_due(self) -> None:
        """The next note writes everything held."""
        with self._lock:
            self._due_at = 0.0

    def reset(self) -> None:
        """Drop what is held, unwritten, and make the next note due."""
        with self._lock:
            self._state = self._empty()
            self._due_at = 0.0


def buffers_flush() -> None:
    """Every buffer of the process written now (a process that stops)."""
    for buffer in list(_ALL):
        buffer.flush()


atexit.register(buffers_flush)


def buffers_reset() -> None:
    """Every buffer of the process emptied and due (a test starts from nothing held)."""
    for buffer in list(_ALL):
        buffer.reset()
