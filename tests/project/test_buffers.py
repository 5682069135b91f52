"""The one "note in memory, write every N seconds" helper (conductrics_admin/buffers.py),
on an injected clock."""

import threading
import time
from collections import Counter

from conductrics_admin.buffers import FlushBuffer, buffers_flush, buffers_reset


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _buffer(clock: Clock, every: float = 10.0) -> tuple[FlushBuffer, list]:
    written: list = []
    buffer = FlushBuffer(empty=Counter, write=written.append, every=lambda: every, clock=clock)
    return buffer, written


def test_first_note__written_at_once__the_next_held_until_due():
    clock = Clock()
    buffer, written = _buffer(clock)
    buffer.add(lambda c: c.update(["a"]))
    assert written == [Counter(a=1)]
    clock.now += 9.9
    buffer.add(lambda c: c.update(["a", "b"]))
    buffer.add(lambda c: c.update(["b"]))
    assert written == [Counter(a=1)]
    assert buffer.peek() == Counter(a=1, b=2)
    clock.now += 0.1  # due: the next note writes everything held, itself included
    buffer.add(lambda c: c.update(["c"]))
    assert written == [Counter(a=1), Counter(a=1, b=2, c=1)]
    assert buffer.peek() == Counter()


def test_every_zero__each_note_written_alone():
    clock = Clock()
    buffer, written = _buffer(clock, every=0.0)
    for name in "xyz":
        buffer.add(lambda c, name=name: c.update([name]))
    assert written == [Counter(x=1), Counter(y=1), Counter(z=1)]


def test_flush__writes_what_is_held__nothing_when_empty():
    clock = Clock()
    buffer, written = _buffer(clock)
    buffer.flush()
    assert written == []  # an empty state is never handed to the writer
    buffer.add(lambda c: c.update(["a"]))  # held: the flush started a new period
    buffer.add(lambda c: c.update(["b"]))
    buffer.flush()
    assert written == [Counter(a=1, b=1)]


def test_make_due_and_reset():
    clock = Clock()
    buffer, written = _buffer(clock)
    buffer.add(lambda c: c.update(["a"]))
    buffer.add(lambda c: c.update(["b"]))
    buffer.make_due()
    buffer.add(lambda c: c.update(["c"]))
    assert written == [Counter(a=1), Counter(b=1, c=1)]
    buffer.add(lambda c: c.update(["d"]))  # held again
    buffers_reset()  # every buffer: dropped unwritten, and the next note is due
    assert buffer.peek() == Counter()
    buffer.add(lambda c: c.update(["e"]))
    assert written[-1] == Counter(e=1)
    assert Counter(d=1) not in written


def test_parallel_notes__none_lost():
    clock = Clock()
    written: list = []
    buffer = FlushBuffer(empty=Counter, write=written.append, every=lambda: 0.001, clock=clock)

    def noter() -> None:
        for _ in range(2000):
            clock.now += 0.0001
            buffer.add(lambda c: c.update(["n"]))

    threads = [threading.Thread(target=noter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffer.flush()
    assert sum(batch["n"] for batch in written) == 8000


def test_timer__writes_what_is_held_though_no_note_follows():
    written: list = []
    buffer = FlushBuffer(empty=Counter, write=written.append, every=lambda: 0.2)
    buffer.add(lambda c: c.update(["first"]))  # due: written at once
    buffer.add(lambda c: c.update(["held"]))  # held, and no note will come
    assert written == [Counter(["first"])]
    deadline = time.monotonic() + 5
    while len(written) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert written == [Counter(["first"]), Counter(["held"])]


def test_timer__one_per_process__another_after_a_fork():
    buffer = FlushBuffer(empty=Counter, write=lambda state: None, every=lambda: 60)
    before = threading.active_count()
    for _ in range(5):
        buffer.add(lambda c: c.update(["x"]))
    assert threading.active_count() == before + 1  # one timer, however many notes
    buffer._timer_pid = -1  # as a forked child sees its parent's
    buffer.add(lambda c: c.update(["x"]))
    assert threading.active_count() == before + 2


def test_buffers_flush__writes_every_buffer_now():
    written: list = []
    buffers = [FlushBuffer(empty=Counter, write=written.append, every=lambda: 3600) for _ in "ab"]
    for buffer in buffers:
        buffer.flush()  # the next notes are held for an hour
        buffer.add(lambda c: c.update(["held"]))
    assert written == []
    buffers_flush()  # as at exit, or from gunicorn's worker_exit
    assert written == [Counter(["held"]), Counter(["held"])]
