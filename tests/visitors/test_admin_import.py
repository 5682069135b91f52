"""The admin's "Import offline conversions" on a REST target (SPEC §4c "Offline import"):
upload, a dry-run preview of the first rows, start, judged a part at a time (resumable),
kept with its counts and verdict report, audited; bad files named by line, nothing kept."""

import csv
import io

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile

from goals import reasons
from visitors import imports
from visitors.models import Credit, GoalEvent, GoalImport, GoalImportPart

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen(api, agent, express_target):
    for vid in ("lana", "omar"):
        api.data(express_target, [{"a": "a-hero"}], session=f"p-{vid}", vid=vid)


def _url(target, *rest):
    return f"/admin/targets/deploytarget/{target.pk}/import/" + "".join(f"{r}/" for r in rest)


def _upload(client, target, text, name="orders.csv"):
    upload = SimpleUploadedFile(name, text.encode(), content_type="text/csv")
    return client.post(_url(target), {"file": upload})


def _step_all(client, target, goal_import):
    for _ in range(goal_import.parts + 1):
        answer = client.post(_url(target, goal_import.pk), {"action": "step"},
                             HTTP_ACCEPT="application/json").json()  # fmt: skip
        if answer["status"] == "done":
            return answer
    raise AssertionError("the import did not finish")


ORDERS = "vid,g,v\nlana,g-purchase,19.99\nomar,g-purchase,ten\nnobody,g-purchase,5\n"


def test_import__preview_then_start_then_kept_with_counts_and_report(
    seen, rest_target, staff_client, staff_user
):
    response = _upload(staff_client, rest_target, ORDERS)
    goal_import = GoalImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url(rest_target, goal_import.pk)
    assert (goal_import.rows, goal_import.parts, goal_import.status) == (3, 1, "preview")
    preview = staff_client.get(_url(rest_target, goal_import.pk)).content.decode()
    assert '<tr data-verdict="ok"><td>2</td>' in preview  # the preview, judged by line
    assert f"<td>{reasons.INVALID_EVENT}</td>" in preview
    assert not GoalEvent.objects.exists()  # a preview records nothing
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "start"})
    answer = _step_all(staff_client, rest_target, GoalImport.objects.get())
    assert answer["rows_done"] == 3
    assert answer["verdicts"] == {"ok": 1, "none": 1, "replay": 0, "err": 1}
    assert Credit.objects.count() == 1
    assert GoalEvent.objects.count() == 2
    done = staff_client.get(_url(rest_target, goal_import.pk)).content.decode()
    assert "Imported" in done
    assert f"{reasons.INVALID_EVENT}: 1" in done
    report = b"".join(staff_client.get(_url(rest_target, goal_import.pk) + "verdicts.csv")
                      .streaming_content).decode()  # fmt: skip
    rows = list(csv.reader(io.StringIO(report)))
    assert rows[0] == list(imports.REPORT_HEADER)
    assert [row[:2] for row in rows[1:]] == [["2", "ok"], ["3", "err"], ["4", "none"]]
    assert GoalImportPart.objects.get().rows == []  # no visitor kept once judged
    statuses = [e.changes.get("status", [None, None])[1] for e in
                LogEntry.objects.get_for_object(goal_import).order_by("timestamp")]  # fmt: skip
    assert statuses == ["preview", "running", "done"]
    assert all(e.actor == staff_user for e in LogEntry.objects.get_for_object(goal_import))
    # the same file again: nothing more recorded, its rows replays
    _upload(staff_client, rest_target, ORDERS)
    again = GoalImport.objects.filter(status="preview").get()
    staff_client.post(_url(rest_target, again.pk), {"action": "start"})
    assert _step_all(staff_client, rest_target, again)["verdicts"]["replay"] == 2
    assert GoalEvent.objects.count() == 2


def test_import__resumes_where_it_stopped(seen, rest_target, staff_client, monkeypatch):
    monkeypatch.setattr(imports, "SLICE", 2)
    text = "vid,g,id\n" + "".join(f"v{i},g-purchase,o-{i}\n" for i in range(5))
    _upload(staff_client, rest_target, text)
    goal_import = GoalImport.objects.get()
    assert goal_import.parts == 3
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "start"})
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "step"})  # no script: a part
    goal_import.refresh_from_db()
    assert (goal_import.status, goal_import.parts_done, goal_import.rows_done) == ("running", 1, 2)
    page = staff_client.get(_url(rest_target, goal_import.pk)).content.decode()  # page reopened
    assert 'value="2"' in page
    assert "goal_import.js" in page
    assert _step_all(staff_client, rest_target, goal_import)["rows_done"] == 5
    assert GoalEvent.objects.count() == 5
    # a step of a finished import records nothing more
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "step"})
    assert GoalEvent.objects.count() == 5


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("orders.csv", b"email,g\nx@y,g-purchase\n", "line 1: the header must name g"),
        (
            "orders.csv",
            "vid,g\nlana,g-purchase\njos\xe9,g\n".encode("latin-1"),
            "line 3: not UTF-8",
        ),
        ("orders.csv", b"", "The submitted file is empty"),
        ("orders.csv", b"vid,g\n", "the file has no rows"),
    ],
)
def test_import__a_file_that_is_no_goal_events_is_named_and_nothing_kept(
    rest_target, staff_client, name, content, words
):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    response = staff_client.post(_url(rest_target), {"file": upload})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not GoalImport.objects.exists()
    assert not GoalImportPart.objects.exists()


def test_import__a_truncated_last_line_is_its_own_verdict(seen, rest_target, staff_client):
    _upload(staff_client, rest_target, 'vid,g\nlana,g-purchase\nomar,"g-purch')
    preview = staff_client.get(_url(rest_target, GoalImport.objects.get().pk)).content.decode()
    assert "a truncated line?" in preview


def test_import__too_large_a_file_refused(rest_target, staff_client, monkeypatch):
    monkeypatch.setattr("visitors.admin_import.IMPORT_FILE_MAX_BYTES", 10)
    response = _upload(staff_client, rest_target, ORDERS)
    assert response.status_code == 400
    assert "the limit is" in response.content.decode()
    assert not GoalImport.objects.exists()


def test_import__discard_and_wrong_actions(seen, rest_target, staff_client):
    _upload(staff_client, rest_target, ORDERS)
    goal_import = GoalImport.objects.get()
    bogus = staff_client.post(_url(rest_target, goal_import.pk), {"action": "<script>"},
                              follow=True).content.decode()  # fmt: skip
    assert "cannot &lt;script&gt;" in bogus
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "discard"})
    assert not GoalImport.objects.exists()
    assert not GoalImportPart.objects.exists()
    assert not GoalEvent.objects.exists()


def test_import__only_rest_targets_of_ones_own_account(
    express_target, rest_target, staff_client, other_setup
):
    assert staff_client.get(_url(express_target)).status_code == 404
    theirs = other_setup["target"]
    assert staff_client.get(_url(theirs)).status_code == 404
    html = staff_client.get(f"/admin/targets/deploytarget/{rest_target.pk}/change/").content
    assert _url(rest_target).encode() in html
    html = staff_client.get(f"/admin/targets/deploytarget/{express_target.pk}/change/").content
    assert _url(express_target).encode() not in html


def test_import__other_accounts_imports_are_not_found(rest_target, staff_client, other_setup):
    from django.utils import timezone

    theirs = GoalImport.objects.create(
        account=other_setup["target"].account, target=other_setup["target"], name="x.csv",
        created_at=timezone.now(),
    )  # fmt: skip
    assert staff_client.get(_url(rest_target, theirs.pk)).status_code == 404
    assert staff_client.get(_url(rest_target, theirs.pk) + "verdicts.csv").status_code == 404
    assert staff_client.post(_url(rest_target, theirs.pk), {"action": "start"}).status_code == 404


def test_import__a_database_failure_mid_part_records_nothing_and_resumes(
    seen, rest_target, staff_client, monkeypatch
):
    from django.db import OperationalError

    _upload(staff_client, rest_target, ORDERS)
    goal_import = GoalImport.objects.get()
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "start"})
    record = imports.goal_events_record

    def failing(**kwargs):
        record(**kwargs)  # written, then the database fails before the commit
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(imports, "goal_events_record", failing)
    answer = staff_client.post(_url(rest_target, goal_import.pk), {"action": "step"},
                               HTTP_ACCEPT="application/json")  # fmt: skip
    assert answer.status_code == 503
    assert "nothing of this part was recorded" in answer.json()["error"]
    assert not GoalEvent.objects.exists()
    goal_import.refresh_from_db()
    assert (goal_import.parts_done, goal_import.status) == (0, "running")
    monkeypatch.setattr(imports, "goal_events_record", record)
    assert _step_all(staff_client, rest_target, goal_import)["verdicts"]["ok"] == 1
    assert GoalEvent.objects.count() == 2


def test_import__ndjson_values_no_database_can_store_are_that_lines_verdict(
    seen, rest_target, staff_client
):
    """A NUL or a lone surrogate (JSON escapes) cannot be stored as text (PostgreSQL's
    jsonb refuses the one, UTF-8 the other): that line's verdict, the file imported."""
    text = (
        '{"vid": "lana", "g": "g-purchase"}\n'
        '{"vid": "om\\u0000ar", "g": "g-purchase"}\n'
        '{"vid": "x", "g": "g-purchase", "inputs": {"k": "\\ud800"}}\n'
    )
    response = _upload(staff_client, rest_target, text, name="orders.ndjson")
    assert response.status_code == 302
    goal_import = GoalImport.objects.get()
    staff_client.post(_url(rest_target, goal_import.pk), {"action": "start"})
    assert _step_all(staff_client, rest_target, goal_import)["verdicts"]["err"] == 2
    report = b"".join(staff_client.get(_url(rest_target, goal_import.pk) + "verdicts.csv")
                      .streaming_content).decode()  # fmt: skip
    rows = list(csv.reader(io.StringIO(report)))
    assert [row[:2] for row in rows[1:]] == [["1", "ok"], ["2", "err"], ["3", "err"]]
    assert "no NUL, no lone surrogate" in rows[2][4]
    assert "no NUL, no lone surrogate" in rows[3][4]
