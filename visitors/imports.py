"""Goal events from a file (SPEC §4c "Offline import"): a back office's export, read a
row at a time, so memory stays flat whatever the file's size.

`import_rows` reads CSV (a header of `vid`, `session`, `g`, `v`, `id`, `t`, `traits`,
`alias`) or
NDJSON (an object per line with those keys) from bytes, and yields each row as an event
(what `visitors.batch.event_of` checks) or as the reason it is no event, with its line
number. A row without `id` gets one derived from its content, so importing the same file
twice records nothing the second time. A file that cannot be read as such at all (a
wrong header, not UTF-8) raises `ImportFileError` naming the line.

`rows_judge` judges (and records) a slice of rows through the batch endpoint's service and
answers a `RowVerdict` per row; `ImportCounts` adds them up. The `import_goals` command and
the admin's "Import offline conversions" (`visitors.admin_import`) both go through them.

The admin's import is kept (`GoalImport`): `goal_import_create` reads the uploaded file and
splits it into parts of up to `SLICE` rows, `goal_import_preview` judges its first rows
(recording nothing), `goal_import_step` judges and records the next part (one transaction,
the import locked, so two pages stepping the same import never judge a part twice), and
`goal_import_report` is the verdict report of the parts judged.
"""

import codecs
import csv
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone

from accounts.codes import BAD_TEXT_RULE, text_ok
from visitors.batch import BadEvent, BatchEvent, event_of, goal_events_record
from visitors.config import AccountConf, TargetConf, account_conf
from visitors.models import GoalImport, GoalImportPart

IMPORT_COLUMNS = ("vid", "session", "g", "v", "id", "t", "traits", "alias")
FORMATS = ("csv", "ndjson")
SLICE = 1000  # rows judged together: the batch endpoint's own limit
VERDICTS = ("ok", "none", "replay", "err")  # a row's verdict: its item's s, or replay
REPORT_HEADER = ("line", "s", "credited", "reason", "detail")  # the verdict report's columns
IMPORT_FILE_MAX_BYTES = 20 * 1024 * 1024  # an admin upload (the command takes any size)
PREVIEW_ROWS = 20  # rows judged (dry run) before an admin import starts


class ImportFileError(Exception):
    """The file cannot be read as goal events (the message names the line)."""


Row = tuple[int, dict[str, Any] | str]  # (line, event) or (line, why it is no event)


def import_format_of(name: str) -> str:
    """The format a file's name says (NDJSON for .ndjson / .jsonl), else CSV."""
    return "ndjson" if name.lower().endswith((".ndjson", ".jsonl")) else "csv"


def import_rows(stream: BinaryIO, fmt: str) -> Iterator[Row]:
    """The rows of `stream` in format `fmt`, each an event with an id, or why not."""
    lines = _utf8_lines(stream)
    rows = _csv_rows(lines) if fmt == "csv" else _ndjson_rows(lines)
    for line, row in rows:
        if isinstance(row, dict) and row.get("id") in (None, ""):
            row["id"] = content_id(row)
        yield line, row


def row_slices(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """`rows` in lists of up to `SLICE`."""
    pending: list[Row] = []
    for row in rows:
        pending.append(row)
        if len(pending) == SLICE:
            yield pending
            pending = []
    if pending:
        yield pending


def content_id(row: dict[str, Any]) -> str:
    """An event id made of what the row says (the same row: the same id)."""
    facts = {k: row.get(k) for k in IMPORT_COLUMNS if k not in ("id", "alias")}
    if row.get("alias") is not None:  # a row without one keeps the id it always had
        facts["alias"] = row["alias"]
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    return f"imp-{digest[:32]}"


def _utf8_lines(stream: BinaryIO) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    for number, raw in enumerate(stream, start=1):
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError:
            raise ImportFileError(
                f"line {number}: not UTF-8 text: save the file as UTF-8"
            ) from None


def _csv_rows(lines: Iterable[str]) -> Iterator[Row]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ImportFileError(f"line 1: {exc}") from None
    columns = [c.strip() for c in header]
    unknown = [c for c in columns if c not in IMPORT_COLUMNS]
    if unknown or "g" not in columns or not {"vid", "session"} & set(columns):
        raise ImportFileError(
            f"line 1: the header must name g, vid or session, and optionally v, id, t, "
            f"traits, alias (found {', '.join(columns)[:200]})"
        )
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a quote left open at the end: a truncated line
            truncated = ": a truncated line?" if "end of data" in str(exc) else ""
            yield reader.line_num, f"not a CSV row ({exc}){truncated}"
            continue
        line = reader.line_num
        if not cells or cells == [""]:
            continue
        if len(cells) != len(columns):
            yield (
                line,
                f"{len(cells)} fields where the header has {len(columns)}: a truncated line?",
            )
            continue
        yield line, {k: _cell(k, v) for k, v in zip(columns, cells, strict=True) if v != ""}


def _cell(column: str, value: str) -> Any:
    """A CSV cell as the event's field: v a number, t milliseconds when all digits."""
    if column == "v":
        try:
            return float(value)
        except ValueError:
            return value  # refused as the event's "v"
    if column == "t" and value.isdigit():
        return int(value)
    return value


def _ndjson_rows(lines: Iterable[str]) -> Iterator[Row]:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except (ValueError, RecursionError):
            yield line, "not a JSON object: a truncated line?"
            continue
        if not isinstance(row, dict):
            yield line, "not a JSON object"
            continue
        kept = json.dumps(row, ensure_ascii=False)  # as the admin's import keeps it
        if "\\u0000" in kept or not text_ok(kept):  # a NUL (JSON escapes it), a surrogate
            yield line, f"not {BAD_TEXT_RULE}"
            continue
        yield line, row


@dataclass(frozen=True)
class RowVerdict:
    """What became of one row: a line of the verdict report."""

    line: int
    verdict: str  # one of VERDICTS
    credited: str  # "agent/variation" pairs, space-separated
    reason: str  # the err, or the skip reasons, space-separated
    detail: str

    def as_report_row(self) -> list[Any]:
        return [self.line, self.verdict, self.credited, self.reason, self.detail]


def rows_judge(
    *, account: AccountConf, target: TargetConf, rows: Sequence[Row], dry_run: bool = False
) -> list[RowVerdict]:
    """Judge the rows (at most `SLICE`) as one batch on `target` and record them (all or
    nothing, unless `dry_run`); a verdict per row, in order. Raises DatabaseError as
    `goal_events_record` does."""
    events = [(line, event_of(row) if isinstance(row, dict) else BadEvent("", row))
              for line, row in rows]  # fmt: skip
    good = [event for _, event in events if isinstance(event, BatchEvent)]
    results = iter(goal_events_record(account=account, target=target, events=good, dry_run=dry_run))
    verdicts = []
    for line, event in events:
        if isinstance(event, BadEvent):
            verdicts.append(RowVerdict(line, "err", "", "invalid_event", event.detail))
            continue
        result = next(results)
        reason = result.err or " ".join(s["reason"] for s in result.skipped)
        detail = result.detail if result.err else ""
        if result.link is not None and result.link.err:  # the row's alias was not linked
            reason = " ".join(filter(None, [reason, result.link.err]))
            detail = "; ".join(filter(None, [detail, f"alias: {result.link.detail}"]))
        verdicts.append(
            RowVerdict(
                line,
                "replay" if result.replay else result.status,
                " ".join(f"{c['a']}/{c['c']}" for c in result.credited),
                reason,
                detail,
            )
        )
    return verdicts


@dataclass
class ImportCounts:
    """Rows by verdict, and skip and error reasons by how often (a row's skips each)."""

    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, verdicts: Iterable[RowVerdict]) -> None:
        for row in verdicts:
            self.verdicts[row.verdict] += 1
            self.reasons.update(row.reason.split())

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"verdicts": dict(self.verdicts), "reasons": dict(self.reasons)}

    @classmethod
    def from_json(cls, data: dict[str, dict[str, int]]) -> "ImportCounts":
        return cls(Counter(data.get("verdicts", {})), Counter(data.get("reasons", {})))

    def reasons_by_count(self) -> list[tuple[str, int]]:
        return sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))


def goal_import_create(
    *, account_id: int, target_id: int, name: str, stream: BinaryIO, size: int
) -> GoalImport:
    """Read `stream` (format by `name`) into a new import, previewed, not started. Raises
    ImportFileError (nothing kept) when the file cannot be read as goal events."""
    with transaction.atomic():
        goal_import = GoalImport.objects.create(
            account_id=account_id, target_id=target_id, name=name[:255], size=size
        )
        parts, rows = [], 0
        for index, pending in enumerate(row_slices(import_rows(stream, import_format_of(name)))):
            parts.append(GoalImportPart(goal_import=goal_import, index=index, rows=pending))
            rows += len(pending)
            if len(parts) == 20:
                GoalImportPart.objects.bulk_create(parts)
                parts = []
        GoalImportPart.objects.bulk_create(parts)
        if rows == 0:
            raise ImportFileError("the file has no rows")
        goal_import.rows, goal_import.parts = rows, index + 1
        goal_import.save(update_fields=["rows", "parts"])
    return goal_import


def _confs(goal_import: GoalImport) -> tuple[AccountConf, TargetConf]:
    account = account_conf(code=goal_import.account.code)
    targets = account.targets if account else ()
    target = next((t for t in targets if t.id == goal_import.target_id), None)
    if account is None or target is None:  # deleting either deletes the import
        raise GoalImport.DoesNotExist
    return account, target


def goal_import_preview(goal_import: GoalImport) -> list[RowVerdict]:
    """The first `PREVIEW_ROWS` rows judged as they would be now; nothing recorded."""
    part = GoalImportPart.objects.filter(goal_import=goal_import, index=0).first()
    if part is None or part.done:
        return []
    account, target = _confs(goal_import)
    rows = [(line, row) for line, row in part.rows[:PREVIEW_ROWS]]
    return rows_judge(account=account, target=target, rows=rows, dry_run=True)


def goal_import_step(goal_import_id: int) -> GoalImport:
    """Judge and record the next part of a running import; the import as it now stands.
    Raises DatabaseError as `goal_events_record` does (the part stays to do)."""
    with transaction.atomic():
        goal_import = GoalImport.objects.select_for_update().get(pk=goal_import_id)
        if goal_import.status != GoalImport.Status.RUNNING:
            return goal_import
        part = (
            GoalImportPart.objects.filter(goal_import=goal_import, done=False)
            .order_by("index")
            .first()
        )
        if part is not None:
            account, target = _confs(goal_import)
            verdicts = rows_judge(
                account=account, target=target, rows=[(line, row) for line, row in part.rows]
            )
            counts = ImportCounts.from_json(goal_import.counts)
            counts.add(verdicts)
            report = io.StringIO()
            csv.writer(report).writerows(v.as_report_row() for v in verdicts)
            part.report, part.rows, part.done = report.getvalue(), [], True
            part.save(update_fields=["report", "rows", "done"])
            goal_import.counts = counts.as_json()
            goal_import.parts_done += 1
            goal_import.rows_done += len(verdicts)
        if part is None or goal_import.parts_done >= goal_import.parts:
            goal_import.status = GoalImport.Status.DONE
            goal_import.finished_at = timezone.now()
        goal_import.save()
    return goal_import


def goal_import_report(goal_import: GoalImport) -> Iterator[str]:
    """The verdict report (CSV) of the parts judged so far, in the file's order."""
    header = io.StringIO()
    csv.writer(header).writerow(REPORT_HEADER)
    yield header.getvalue()
    parts = GoalImportPart.objects.filter(goal_import=goal_import, done=True).order_by("index")
    yield from parts.values_list("report", flat=True).iterator(chunk_size=20)
