"""Delete raw visitor-level data older than each account's retention, in batches."""

import time
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Account
from visitors.purge import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PAUSE,
    AccountPurge,
    Batch,
    PurgeCounts,
    PurgeLocked,
    raw_data_purge,
)


class Command(BaseCommand):
    help = (
        "Delete raw visitor-level data (assignments, goal events, credits) older than each "
        "account's retention, in short batches; reports are not changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only this account (code); default: all")
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="delete data older than DAYS instead of the account's retention",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="allow --older-than below an attribution window",
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--pause",
            type=float,
            default=DEFAULT_PAUSE,
            metavar="FACTOR",
            help="rest FACTOR times as long as each batch took, for live traffic "
            f"(default {DEFAULT_PAUSE}; 0 to go flat out)",
        )
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        accounts = Account.objects.order_by("code")
        if options["account"]:
            accounts = accounts.filter(code=options["account"])
            if not accounts.exists():
                raise CommandError(f"No account “{options['account']}”.")
        dry_run = options["dry_run"]
        progress = _Progress(self)
        began = time.monotonic()
        try:
            done = raw_data_purge(
                accounts=accounts,
                older_than_days=options["older_than"],
                force=options["force"],
                batch_size=options["batch_size"],
                pause=options["pause"],
                dry_run=dry_run,
                now=timezone.now(),
                on_account=progress.account,
                on_batch=progress.batch,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except PurgeLocked:
            raise CommandError(
                "Another purge is running (it holds the purge lock); try again when it ends."
            ) from None
        progress.end()
        self._report(done, dry_run=dry_run, seconds=time.monotonic() - began)

    def say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.stdout.write(text)

    def _report(self, done: list[AccountPurge], *, dry_run: bool, seconds: float) -> None:
        total = PurgeCounts()
        for purge in done:
            counts = purge.counts
            total.add(counts)
            if dry_run:
                self.say(
                    f"{purge.account.code}: would delete {counts.describe()} recorded "
                    f"before {purge.cutoff:%Y-%m-%d %H:%M} UTC (dry run: nothing deleted)"
                )
            else:
                self.say(f"{purge.account.code}: deleted {counts.describe()}")
        verb = "Would delete" if dry_run else "Deleted"
        rate = "" if dry_run else f", {total.total / max(seconds, 1e-9):,.0f} rows/s"
        self.say(
            self.style.SUCCESS(
                f"{verb} {total.total} rows in {len(done)} account(s) "
                f"({total.assignments} assignments, {total.goal_events} goal events, "
                f"{total.credits} credits, {total.links} linked ids) in {seconds:.1f} s{rate}"
            )
        )


class _Progress:
    """A progress line rewritten in place on a terminal; one line per 50 batches otherwise
    (every batch at verbosity 2)."""

    def __init__(self, command: Command) -> None:
        self.command = command
        self.code = ""
        self.dry_run = False
        self.rows = 0
        self.batches = 0
        self.began = time.monotonic()
        self.tty = command.stdout.isatty() if hasattr(command.stdout, "isatty") else False
        self.slowest = 0.0

    def account(self, account: Account, cutoff: datetime) -> None:
        self._line_end()
        self.code, self.rows, self.batches, self.began = account.code, 0, 0, time.monotonic()
        self.command.say(
            f"{account.code}: raw data recorded before {cutoff:%Y-%m-%d %H:%M} UTC goes"
        )

    def batch(self, batch: Batch) -> None:
        self.rows += batch.deleted
        self.batches += 1
        self.slowest = max(self.slowest, batch.seconds)
        rate = self.rows / max(time.monotonic() - self.began, 1e-9)
        line = (
            f"  {self.code} {batch.table}: batch {self.batches}, {batch.deleted} rows in "
            f"{batch.seconds * 1000:.0f} ms; {self.rows} rows so far, {rate:,.0f} rows/s"
        )
        if self.command.verbosity < 1:
            return
        if self.tty:
            self.command.stdout.write("\r" + line, ending="")
            self.command.stdout.flush()
        elif self.command.verbosity >= 2 or self.batches % 50 == 1:
            self.command.stdout.write(line)

    def _line_end(self) -> None:
        if self.tty and self.batches and self.command.verbosity >= 1:
            self.command.stdout.write("")

    def end(self) -> None:
        self._line_end()
        if self.slowest:
            self.command.say(f"  slowest batch: {self.slowest * 1000:.0f} ms", 2)
