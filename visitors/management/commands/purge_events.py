"""Delete raw visitor-level data older than each account's retention, in batches."""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Account
from visitors.purge import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PAUSE,
    Batch,
    PurgeCounts,
    PurgeLocked,
    purge_account,
    purge_count,
    purge_cutoff,
    purge_lock,
)


class Command(BaseCommand):
    help = (
        "Delete raw visitor-level data (assignments, goal events, credits) older than each "
        "account's retention, in short batches; reports are not changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="only this account (code); default: all")
        parser.add_argument(
            "--older-than", type=int, metavar="DAYS",
            help="delete data older than DAYS instead of the account's retention",
        )  # fmt: skip
        parser.add_argument(
            "--force", action="store_true",
            help="allow --older-than below an attribution window",
        )  # fmt: skip
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--pause", type=float, default=DEFAULT_PAUSE, metavar="FACTOR",
            help="rest FACTOR times as long as each batch took, for live traffic "
            f"(default {DEFAULT_PAUSE}; 0 to go flat out)",
        )  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: object, **options: object) -> None:
        accounts = Account.objects.order_by("code")
        if options["account"]:
            accounts = accounts.filter(code=options["account"])
            if not accounts.exists():
                raise CommandError(f"No account “{options['account']}”.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be 1 or more.")
        if options["pause"] < 0:
            raise CommandError("--pause must be 0 or more.")
        now = timezone.now()
        try:
            plan = [
                (
                    account,
                    purge_cutoff(
                        account=account,
                        older_than_days=options["older_than"],
                        force=options["force"],
                        now=now,
                    ),
                )
                for account in accounts
            ]
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        try:
            with purge_lock():
                self._run(plan, options)
        except PurgeLocked:
            raise CommandError(
                "Another purge is running (it holds the purge lock); try again when it ends."
            ) from None

    def _say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.stdout.write(text)

    def _run(self, plan: list, options: dict) -> None:
        self.verbosity = options["verbosity"]
        total = PurgeCounts()
        began = time.monotonic()
        for account, cutoff in plan:
            if options["dry_run"]:
                counts = purge_count(account=account, cutoff=cutoff)
                self._say(
                    f"{account.code}: would delete {counts.assignments} assignments, "
                    f"{counts.goal_events} goal events and {counts.credits} credits "
                    f"recorded before {cutoff:%Y-%m-%d %H:%M} UTC (dry run: nothing deleted)"
                )
                total.add(counts)
                continue
            self._say(
                f"{account.code}: deleting raw data recorded before {cutoff:%Y-%m-%d %H:%M} UTC"
            )
            progress = _Progress(self, account.code)
            counts = purge_account(
                account=account,
                cutoff=cutoff,
                batch_size=options["batch_size"],
                pause=options["pause"],
                on_batch=progress.batch,
            )
            progress.end()
            self._say(
                f"{account.code}: deleted {counts.assignments} assignments, "
                f"{counts.goal_events} goal events and {counts.credits} credits"
            )
            total.add(counts)
        seconds = time.monotonic() - began
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self._say(
            self.style.SUCCESS(
                f"{verb} {total.total} rows in {len(plan)} account(s) "
                f"({total.assignments} assignments, {total.goal_events} goal events, "
                f"{total.credits} credits) in {seconds:.1f} s"
                + (
                    ""
                    if options["dry_run"]
                    else f", {total.total / max(seconds, 1e-9):,.0f} rows/s"
                )
            )
        )


class _Progress:
    """A progress line rewritten in place on a terminal; one line per batch otherwise."""

    def __init__(self, command: Command, code: str) -> None:
        self.command = command
        self.code = code
        self.rows = 0
        self.batches = 0
        self.began = time.monotonic()
        self.tty = command.stdout.isatty() if hasattr(command.stdout, "isatty") else False
        self.slowest = 0.0

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

    def end(self) -> None:
        if self.tty and self.batches and self.command.verbosity >= 1:
            self.command.stdout.write("")
        if self.batches:
            self.command._say(f"  slowest batch: {self.slowest * 1000:.0f} ms", 2)
