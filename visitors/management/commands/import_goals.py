"""Import goal events from a file: a back office's export (SPEC §4c "Offline import")."""

import csv
import os
import sys
import time
from collections.abc import Iterable
from typing import IO, Any, BinaryIO

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from accounts.audit import AuditedCommand
from visitors.config import AccountConf, TargetConf, account_conf
from visitors.imports import (
    FORMATS,
    REPORT_HEADER,
    VERDICTS,
    ImportCounts,
    ImportFileError,
    Row,
    import_format_of,
    import_rows,
    row_slices,
    rows_judge,
)  # fmt: skip

PROGRESS_EVERY_SECONDS = 0.5


class Command(AuditedCommand):
    help = (
        "Import goal events from a CSV (header: vid, session, g, v, id, t, traits, alias) or "
        "NDJSON file, or - for standard input, through the same service as the goal-events "
        "endpoint: each row judged as the same goal sent alone would be, at its own time t."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the file, or - for standard input")
        parser.add_argument("--account", required=True, help="account code")
        parser.add_argument("--target", required=True, help="code of a REST deploy target")
        parser.add_argument("--format", choices=FORMATS, help="csv or ndjson (default: by name)")
        parser.add_argument("--dry-run", action="store_true", help="judge every row, record none")
        parser.add_argument("--report", help="write a CSV line per row: line, s, credited, reason")

    def handle(self, *args: Any, **options: Any) -> None:
        account = account_conf(code=options["account"])
        if account is None:
            raise CommandError(f"No account “{options['account']}”.")
        target = next((t for t in account.targets if t.code == options["target"]), None)
        if target is None or target.is_express:
            raise CommandError(
                f"No REST deploy target “{options['target']}” in {account.code}: goal events "
                "are imported through a REST target."
            )
        name = options["file"]
        fmt = options["format"] or import_format_of(name)
        stream: BinaryIO
        if name == "-":
            stream, total = sys.stdin.buffer, None
        else:
            try:
                stream, total = open(name, "rb"), os.path.getsize(name)  # noqa: SIM115
            except OSError as exc:
                raise CommandError(f"Cannot read {name}: {exc.strerror}") from exc
        report = open(options["report"], "w", newline="") if options["report"] else None  # noqa: SIM115
        run = _Run(self, account, target, options["dry_run"], report, stream, total)
        try:
            run.rows(import_rows(stream, fmt))
        except ImportFileError as exc:
            raise CommandError(f"{name}: {exc}") from exc
        except DatabaseError as exc:
            raise CommandError(
                f"The database failed after {run.recorded:,} rows were recorded (nothing of "
                "the batch under way was): run the same import again; rows already recorded "
                "answer as replays."
            ) from exc
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
            if report:
                report.close()
        run.summary()


class _Run:
    """One import: rows judged a slice at a time, progress, counts, the report."""

    def __init__(
        self, command: Command, account: AccountConf, target: TargetConf, dry_run: bool,
        report: IO[str] | None, stream: BinaryIO, total: int | None,
    ) -> None:  # fmt: skip
        self.command, self.account, self.target, self.dry_run = command, account, target, dry_run
        self.report = csv.writer(report) if report else None
        if self.report:
            self.report.writerow(REPORT_HEADER)
        self.stream, self.total = stream, total
        self.counts = ImportCounts()
        self.seen = self.recorded = 0
        self.started = self.shown = time.monotonic()
        self.tty = command.stderr.isatty()

    def rows(self, rows: Iterable[Row]) -> None:
        for pending in row_slices(rows):
            verdicts = rows_judge(
                account=self.account, target=self.target, rows=pending, dry_run=self.dry_run
            )
            self.counts.add(verdicts)
            if self.report:
                self.report.writerows(v.as_report_row() for v in verdicts)
            if not self.dry_run:
                self.recorded += len(pending)
            self.seen += len(pending)
            self._progress()

    def _progress(self) -> None:
        now = time.monotonic()
        if not self.tty or now - self.shown < PROGRESS_EVERY_SECONDS:
            return
        self.shown = now
        rate = self.seen / max(now - self.started, 1e-9)
        left = ""
        if self.total:
            try:
                done = self.stream.tell() / self.total
            except OSError:
                done = 0
            if done > 0:
                seconds = (now - self.started) * (1 - done) / done
                left = f" · {int(seconds // 60)}:{int(seconds % 60):02d} left"
        self.command.stderr.write(f"\r{self.seen:,} rows · {rate:,.0f} rows/s{left}   ", ending="")

    def summary(self) -> None:
        out = self.command.stdout
        if self.tty:
            self.command.stderr.write("")
        seconds = time.monotonic() - self.started
        verb = "Judged (dry run, nothing recorded)" if self.dry_run else "Imported"
        out.write(f"{verb} {self.seen:,} rows in {seconds:.1f} s "
                  f"({self.seen / max(seconds, 1e-9):,.0f} rows/s).")  # fmt: skip
        for verdict in VERDICTS:
            out.write(f"  {verdict:7s} {self.counts.verdicts[verdict]:>9,}")
        for reason, n in self.counts.reasons_by_count():
            out.write(f"    {reason}: {n:,}")
