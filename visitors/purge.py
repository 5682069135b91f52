"""Purging raw visitor-level data: by age (retention) and per visitor (erasure).

Raw data is assignments, goal events and credits. Reports read aggregates
(`reports.models`), which no purge touches, so a purge never changes a report.

Age purges go table by table (credits, goal events, assignments), each row by its own
date (`created_at`, `received_at`), in primary-key ranges: one short statement each, so
they hold no lock for long and run beside live traffic. Where the old rows end is found
once on an (account, time) index, so the last batches do not scan the table. A credit
can outlive the assignment it went to (it is younger): it stays until its own retention
ends. Killed half-way, a purge run again finishes the job: every batch stands alone.
"""

import contextlib
import fcntl
import hashlib
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet, Subquery

from accounts.models import Account
from visitors.links import person_ids
from visitors.metrics import rows_purged_observe
from visitors.models import (
    Assignment,
    Credit,
    GoalEvent,
    GoalImport,
    GoalImportPart,
    VisitorLink,
)

DEFAULT_BATCH_SIZE = 5000
OLDER_THAN_MAX_DAYS = 36500  # a hundred years: anything older is everything
DEFAULT_PAUSE = 1.0  # rest as long as each batch took: half the database time to traffic
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"conductrics purge").digest()[:8], "big", signed=True)


class PurgeLocked(Exception):
    """Another purge holds the lock."""


@contextlib.contextmanager
def purge_lock() -> Iterator[None]:
    """Hold the purge lock for the block, or raise PurgeLocked at once.

    PostgreSQL: a session advisory lock. Elsewhere (SQLite): an exclusive lock on a file
    named after the database.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise PurgeLocked
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        return
    name = hashlib.sha256(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"conductrics-purge-{name}.lock"
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PurgeLocked from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def account_min_days(*, account: Account) -> int:
    """The shortest retention that still covers every attribution window of the account."""
    goal_windows = account.goals.exclude(attribution_window_hours__isnull=True).values_list(
        "attribution_window_hours", flat=True
    )
    longest = max([account.attribution_window_hours, *(h for h in goal_windows if h is not None)])
    return -(-longest // 24)


def purge_cutoff(
    *, account: Account, older_than_days: int | None, force: bool, now: datetime
) -> datetime:
    """The date before which raw data of `account` goes.

    Raises ValidationError when `older_than_days` is below an attribution window (goals
    could then no longer be matched) and `force` is not given.
    """
    days = account.retention_days if older_than_days is None else older_than_days
    if not 0 <= days <= OLDER_THAN_MAX_DAYS:
        raise ValidationError(f"--older-than must be from 0 to {OLDER_THAN_MAX_DAYS} days.")
    minimum = account_min_days(account=account)
    if days < minimum and not force:
        raise ValidationError(
            f"{account.code}: {days} days is shorter than its attribution window "
            f"({minimum} days): goals arriving now could no longer be matched to those "
            "selections. Use --force to purge anyway."
        )
    return now - timedelta(days=days)


@dataclass(frozen=True)
class Batch:
    table: str
    deleted: int
    seconds: float


@dataclass
class PurgeCounts:
    assignments: int = 0
    goal_events: int = 0
    credits: int = 0
    links: int = 0  # linked ids (SPEC §4d)

    @property
    def total(self) -> int:
        return self.assignments + self.goal_events + self.credits + self.links

    def add(self, other: "PurgeCounts") -> None:
        self.assignments += other.assignments
        self.goal_events += other.goal_events
        self.credits += other.credits
        self.links += other.links

    def describe(self) -> str:
        """`3 assignments, 2 goal events and 2 credits`, and the linked ids when any."""
        text = f"{self.assignments} assignments, {self.goal_events} goal events and "
        text += f"{self.credits} credits"
        return text + (f" (and {self.links} linked ids)" if self.links else "")


@dataclass
class _Table:
    model: type[Assignment] | type[GoalEvent] | type[Credit]
    time_field: str
    label: str
    counts_field: str


_TABLES = (
    _Table(Credit, "created_at", "credits", "credits"),
    _Table(GoalEvent, "received_at", "goal events", "goal_events"),
    _Table(Assignment, "created_at", "assignments", "assignments"),
)


def purge_count(*, account: Account, cutoff: datetime) -> PurgeCounts:
    """What an age purge of `account` would delete (for --dry-run)."""
    counts = PurgeCounts()
    for table in _TABLES:
        n = table.model.objects.filter(
            account=account, **{f"{table.time_field}__lt": cutoff}
        ).count()
        setattr(counts, table.counts_field, n)
    counts.links = _old_links(account, cutoff).count()
    return counts


def _old_links(account: Account, cutoff: datetime) -> QuerySet[VisitorLink]:
    """The links of persons linked last before `cutoff`: raw data, kept as long as the
    rest (SPEC §4d); a person's links go together (an id linked lately keeps its person)."""
    links = VisitorLink.objects.filter(account=account)
    recent = links.filter(created_at__gte=cutoff).values("person")
    return links.filter(created_at__lt=cutoff).exclude(person__in=Subquery(recent))


def _bounds(table: _Table, account: Account, cutoff: datetime) -> tuple[int, int] | None:
    """The id range holding the account's rows older than `cutoff`: [id of its oldest row,
    id of its first row at or after the cutoff). Both come from the (account, time) index."""
    rows = table.model.objects.filter(account=account)
    by_time = [table.time_field, "pk"]
    low = rows.order_by(*by_time).values_list("pk", flat=True).first()
    if low is None:
        return None
    first_newer = (
        rows.filter(**{f"{table.time_field}__gte": cutoff})
        .order_by(*by_time)
        .values_list("pk", flat=True)
        .first()
    )
    if first_newer is None:
        first_newer = int(rows.aggregate(top=Max("pk"))["top"]) + 1
    # Rows are dated when inserted, so ids grow with time; a row inserted out of order
    # beyond the bound waits for the next purge.
    return low, first_newer


def _delete_range(db_table: str, where: str, params: list[Any]) -> int:
    """Delete one id range of a table (one statement, atomic on its own); rows deleted."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {db_table} WHERE {where}", params)  # noqa: S608
        deleted: int = cursor.rowcount
        return deleted


def _account_purge(
    *,
    account: Account,
    cutoff: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pause: float = DEFAULT_PAUSE,
    on_batch: Callable[[Batch], None] | None = None,
) -> PurgeCounts:
    """Delete the raw data of `account` recorded before `cutoff`, batch by batch.

    Each batch deletes the rows of one id range older than the cutoff, then the purge
    rests `pause` times as long as the batch took, leaving the database to live traffic
    (0: no rest). Returns what was deleted. Its options are checked by raw_data_purge.
    """
    counts = PurgeCounts()
    when = connection.ops.adapt_datetimefield_value(cutoff)
    for table in _TABLES:
        bounds = _bounds(table, account, cutoff)
        if bounds is None:
            continue
        low, high = bounds
        db_table = table.model._meta.db_table
        where = f"id >= %s AND id < %s AND account_id = %s AND {table.time_field} < %s"
        for start in range(low, high, batch_size):
            params = [start, min(start + batch_size, high), account.pk, when]
            began = time.monotonic()
            rows = _delete_range(db_table, where, params)
            rows_purged_observe(table=table.label, rows=rows)
            took = time.monotonic() - began
            setattr(counts, table.counts_field, getattr(counts, table.counts_field) + rows)
            if on_batch is not None:
                on_batch(Batch(table.label, rows, took))
            if pause > 0 and rows:
                time.sleep(took * pause)
    counts.links, _ = _old_links(account, cutoff).delete()
    rows_purged_observe(table="linked ids", rows=counts.links)
    _stale_imports_purge(account=account, cutoff=cutoff)
    return counts


def _stale_imports_purge(*, account: Account, cutoff: datetime) -> None:
    """Uploaded files' rows (visitors' ids) past retention: an import never started is
    deleted; one left half-way stops where it was (its counts and report are kept)."""
    stale = GoalImport.objects.filter(account=account, created_at__lt=cutoff)
    stale.filter(status=GoalImport.Status.PREVIEW).delete()
    running = stale.filter(status=GoalImport.Status.RUNNING)
    GoalImportPart.objects.filter(goal_import__in=running, done=False).delete()
    running.update(status=GoalImport.Status.DONE, finished_at=cutoff)


@dataclass(frozen=True)
class AccountPurge:
    """The outcome for one account: what was (or, in a dry run, would be) deleted."""

    account: Account
    cutoff: datetime
    counts: PurgeCounts


def raw_data_purge(
    *,
    accounts: Iterable[Account],
    older_than_days: int | None = None,
    force: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pause: float = DEFAULT_PAUSE,
    dry_run: bool = False,
    now: datetime,
    on_account: Callable[[Account, datetime], None] | None = None,
    on_batch: Callable[[Batch], None] | None = None,
) -> list[AccountPurge]:
    """Delete the raw data of `accounts` older than each one's retention (or
    `older_than_days`), batch by batch, one purge at a time on the database; with
    `dry_run`, only count it. `on_account` is called as each account starts, `on_batch`
    after each batch.

    Raises ValidationError on bad options, or when `older_than_days` is below an
    attribution window without `force` (then nothing is deleted in any account), and
    PurgeLocked when another purge is running.
    """
    if batch_size < 1:
        raise ValidationError("--batch-size must be 1 or more.")
    if not (math.isfinite(pause) and pause >= 0):
        raise ValidationError("--pause must be a number, 0 or more.")
    plan = [
        (
            account,
            purge_cutoff(account=account, older_than_days=older_than_days, force=force, now=now),
        )
        for account in accounts
    ]
    done = []
    with purge_lock():
        for account, cutoff in plan:
            if on_account is not None:
                on_account(account, cutoff)
            if dry_run:
                counts = purge_count(account=account, cutoff=cutoff)
            else:
                counts = _account_purge(
                    account=account,
                    cutoff=cutoff,
                    batch_size=batch_size,
                    pause=pause,
                    on_batch=on_batch,
                )
            done.append(AccountPurge(account, cutoff, counts))
    return done


@dataclass(frozen=True)
class VisitorRows:
    assignments: list[int]
    goal_events: list[int]
    credits: list[int]
    links: list[int]

    @property
    def counts(self) -> PurgeCounts:
        return PurgeCounts(
            len(self.assignments), len(self.goal_events), len(self.credits), len(self.links)
        )


def visitor_rows(
    *, account: Account, vid: str | None = None, session: str | None = None
) -> VisitorRows:
    """The raw rows of one visitor: by external visitor id (with every id linked to it, and
    every session seen with any of them), or by session. Raises ValidationError unless
    exactly one is given."""
    if bool(vid) == bool(session):
        raise ValidationError("Give either a vid or a session.")
    links: list[int] = []
    if vid:
        vids = {vid, *person_ids(account_id=account.pk, vids=[vid]).get(vid, ())}
        links = list(
            VisitorLink.objects.filter(account=account, vid__in=vids).values_list("pk", flat=True)
        )
        sessions = set(
            Assignment.objects.filter(account=account, vid__in=vids).values_list(
                "session", flat=True
            )
        ) | set(
            GoalEvent.objects.filter(account=account, vid__in=vids).values_list(
                "session", flat=True
            )
        )
        who = Q(vid__in=vids) | Q(session__in=sessions)
    else:
        who = Q(session=session)
    assignments = list(Assignment.objects.filter(who, account=account).values_list("pk", flat=True))
    events = list(GoalEvent.objects.filter(who, account=account).values_list("pk", flat=True))
    credits = list(
        Credit.objects.filter(
            Q(assignment_id__in=assignments) | Q(event_id__in=events), account=account
        ).values_list("pk", flat=True)
    )
    return VisitorRows(assignments, events, credits, links)


@transaction.atomic
def visitor_erase(
    *, account: Account, vid: str | None = None, session: str | None = None, dry_run: bool = False
) -> PurgeCounts:
    """Erase one visitor's raw data (assignments, goal events, credits); reports stay.

    Returns what was (or, with `dry_run`, would be) erased.
    """
    rows = visitor_rows(account=account, vid=vid, session=session)
    if not dry_run:
        for model, ids, table in (
            (Credit, rows.credits, "credits"),
            (GoalEvent, rows.goal_events, "goal events"),
            (Assignment, rows.assignments, "assignments"),
            (VisitorLink, rows.links, "linked ids"),
        ):
            # by account too: on Citus, the account's shard alone
            deleted, _ = model.objects.filter(account=account, pk__in=ids).delete()
            rows_purged_observe(table=table, rows=deleted)
    return rows.counts
