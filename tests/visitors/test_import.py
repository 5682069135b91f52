"""`import_goals` (SPEC §4c "Offline import"): a back office's export of goal events,
judged as the same goals sent alone at their own time; nothing twice; bad rows reported
with their line, the others imported."""

import csv
import io
import json
import sys
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from goals import reasons
from visitors.models import Credit, GoalEvent

pytestmark = pytest.mark.django_db


def _import(path, *extra):
    out = io.StringIO()
    call_command("import_goals", str(path), "--account", "ac-acme", "--target", "dt-server",
                 *extra, stdout=out, stderr=io.StringIO())  # fmt: skip
    return out.getvalue()


@pytest.fixture
def seen(api, agent, express_target):
    for vid in ("lana", "omar"):
        api.data(express_target, [{"a": "a-hero"}], session=f"p-{vid}", vid=vid)


def _csv(tmp_path, text, name="orders.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


ORDERS = "vid,g,v,t\nlana,g-purchase,19.99,{t}\nomar,g-purchase,ten,\nnobody,g-purchase,5,\n"


def test_import__rows_judged_the_bad_one_reported_by_line(seen, rest_target, tmp_path):
    happened = (timezone.now() + timedelta(seconds=2)).isoformat()  # after the selection
    report = tmp_path / "verdicts.csv"
    out = _import(_csv(tmp_path, ORDERS.format(t=happened)), "--report", str(report))
    assert "Imported 3 rows" in out
    assert "ok              1" in out and "err             1" in out  # noqa: PT018
    rows = list(csv.reader(report.open()))
    assert rows[0] == ["line", "s", "credited", "reason", "detail"]
    assert rows[1][:3] == ["2", "ok", rows[1][2]] and rows[1][2].startswith("a-hero/")  # noqa: PT018
    assert rows[2][:4] == ["3", "err", "", reasons.INVALID_EVENT]
    assert '"v"' in rows[2][4]
    assert rows[3][:2] == ["4", "none"]
    event = GoalEvent.objects.get(vid="lana")
    assert event.occurred_at.isoformat() == happened  # at its own time
    assert event.event_id.startswith("imp-")  # derived from the row's content


def test_import__the_same_file_twice_records_nothing_more(seen, rest_target, tmp_path):
    path = _csv(tmp_path, ORDERS.format(t=""))
    _import(path)
    events, credits = GoalEvent.objects.count(), Credit.objects.count()
    out = _import(path)
    assert "replay          2" in out
    assert (GoalEvent.objects.count(), Credit.objects.count()) == (events, credits)


def test_import__dry_run_records_nothing(seen, rest_target, tmp_path):
    out = _import(_csv(tmp_path, ORDERS.format(t="")), "--dry-run")
    assert "dry run, nothing recorded" in out
    assert "ok              1" in out
    assert not GoalEvent.objects.exists()


def test_import__ndjson_with_a_truncated_last_line(seen, rest_target, tmp_path):
    path = tmp_path / "queue.ndjson"
    path.write_text(
        json.dumps({"vid": "lana", "g": "g-purchase", "v": 3, "id": "q-1"}) + "\n"
        + json.dumps({"session": "s-9", "g": "g-purchase"}) + "\n"
        + '{"vid": "omar", "g": "g-purch'
    )  # fmt: skip
    report = tmp_path / "r.csv"
    _import(path, "--report", str(report))
    rows = list(csv.reader(report.open()))
    assert [r[:2] for r in rows[1:]] == [["1", "ok"], ["2", "none"], ["3", "err"]]
    assert "truncated" in rows[3][4]
    assert GoalEvent.objects.count() == 2


def test_import__csv_truncated_inside_a_quote(seen, rest_target, tmp_path):
    report = tmp_path / "r.csv"
    _import(_csv(tmp_path, 'vid,g\nlana,g-purchase\n"omar,g-purch'), "--report", str(report))
    rows = list(csv.reader(report.open()))
    assert rows[1][:2] == ["2", "ok"]
    assert rows[2][0] == "3"
    assert "truncated" in rows[2][4]


def test_import__csv_a_bad_quote_mid_file_names_its_line_and_the_rest_is_read(
    seen, rest_target, tmp_path
):
    report = tmp_path / "r.csv"
    text = 'vid,g\nlana,g-purchase\nomar,"g-pu"rch\nomar,g-purchase\n'
    _import(_csv(tmp_path, text), "--report", str(report))
    rows = list(csv.reader(report.open()))
    assert [row[:2] for row in rows[1:]] == [["2", "ok"], ["3", "err"], ["4", "ok"]]
    assert "not a CSV row" in rows[2][4]
    assert "truncated" not in rows[2][4]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"vid,goal\nlana,g-purchase\n", "line 1: the header"),
        (b"vid,g\nlana,g-purchase\nJos\xe9,g-purchase\n", "line 3: not UTF-8"),
    ],
)
def test_import__a_file_that_is_no_import_says_where(rest_target, tmp_path, content, said):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=said):
        _import(path)


def test_import__from_standard_input(seen, rest_target, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"vid,g\nlana,g-purchase\n")))
    assert "ok              1" in _import("-")


def test_import__refuses_an_express_target_or_unknown_account(
    express_target, rest_target, tmp_path
):
    path = _csv(tmp_path, "vid,g\nlana,g-purchase\n")
    with pytest.raises(CommandError, match="REST deploy target"):
        call_command("import_goals", str(path), "--account", "ac-acme", "--target", "dt-web")
    with pytest.raises(CommandError, match="No account"):
        call_command("import_goals", str(path), "--account", "ac-none", "--target", "dt-server")


def test_import__more_rows_than_a_slice(seen, rest_target, tmp_path):
    lines = "".join(f"v{n},g-purchase,{n}\n" for n in range(2500))
    out = _import(_csv(tmp_path, "vid,g,id\n" + lines.replace(",g-purchase,", ",g-purchase,o")))
    assert "Imported 2,500 rows" in out
    assert GoalEvent.objects.count() == 2500
