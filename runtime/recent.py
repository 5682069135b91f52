"""The recent requests of each deploy target (its install page, SPEC §6).

Each answered agent-api request that reached a target (authenticated: refused ones with
400, 403, 413 or 429 included) is noted in this process with its time, status, reason
codes and command count, and written with the others at most every
`RECENT_REQUESTS_FLUSH_SECONDS` (1 s; 0 writes each at once) in one insert, the table
trimmed to each target's last RECENT_REQUESTS_KEPT. In the database, so every server
process sees the same list. Best effort: never in the way of a request (a database
that fails loses the notes, as it would diagnostics).
"""

import logging
from collections import deque
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from conductrics_admin.buffers import FlushBuffer
from targets.models import RECENT_REQUESTS_KEPT, RecentRequest

logger = logging.getLogger(__name__)

PENDING_TARGETS_MAX = 1000  # a process never holds notes of more targets


def _rows_insert(rows: list[tuple[int, int, datetime, int, str, int]]) -> None:
    """Insert (account id, target id, at, status, reasons, commands) rows: on PostgreSQL
    one statement of arrays (the ORM's bulk insert cost 3x as much CPU a row:
    bench/recent_requests.py)."""
    if connection.vendor != "postgresql":
        RecentRequest.objects.bulk_create(
            [RecentRequest(account_id=a, target_id=t, at=at, status=s, reasons=r, commands=n)
             for a, t, at, s, r, n in rows]
        )  # fmt: skip
        return
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RecentRequest._meta.db_table} (account_id, target_id, at, status, "  # noqa: S608 - a table name
            "reasons, commands) SELECT * FROM unnest(%s::bigint[], %s::bigint[], "
            "%s::timestamptz[], %s::int[], %s::varchar[], %s::int[])",
            [list(column) for column in columns],
        )


def _notes_write(pending: dict[tuple[int, int], deque[Any]]) -> None:
    """Write notes, and trim the targets they touched. Never raises."""
    rows = [
        (account_id, target_id, at, status, codes, n)
        for (account_id, target_id), notes in pending.items()
        for at, status, codes, n in notes
    ]
    if not rows:
        return
    try:
        with transaction.atomic():
            _rows_insert(rows)
            for account_id, target_id in pending:
                mine = RecentRequest.objects.filter(account_id=account_id, target_id=target_id)
                keep = list(
                    mine.order_by("-id").values_list("id", flat=True)[
                        RECENT_REQUESTS_KEPT : RECENT_REQUESTS_KEPT + 1
                    ]
                )
                if keep:
                    mine.filter(id__lte=keep[0]).delete()
    except DatabaseError:
        logger.warning("recent requests not noted: database unavailable")


# (account id, target id) -> its notes not yet written, (at, status, reasons, commands):
# only the last RECENT_REQUESTS_KEPT of a target can matter, so no more are held (or written)
_pending: FlushBuffer[dict[tuple[int, int], deque[Any]]] = FlushBuffer(
    empty=dict, write=_notes_write, every=lambda: settings.RECENT_REQUESTS_FLUSH_SECONDS
)


def recent_request_note(
    *,
    account_id: int,
    target_id: int,
    at: datetime,
    status: int,
    reasons: list[str],
    commands: int,
) -> None:
    """Note one answered request of a target; write the notes when due. Never raises."""
    codes = ",".join(dict.fromkeys(r for r in reasons if r))[:300]
    note = (at, status, codes, min(commands, 32767))

    def add(pending: dict[tuple[int, int], deque[Any]]) -> None:
        notes = pending.get((account_id, target_id))
        if notes is None and len(pending) < PENDING_TARGETS_MAX:
            notes = pending[(account_id, target_id)] = deque(maxlen=RECENT_REQUESTS_KEPT)
        if notes is not None:
            notes.append(note)

    _pending.add(add)


def recent_requests_flush() -> None:
    """Write this process's notes, and trim the targets they touched. Never raises."""
    _pending.flush()
