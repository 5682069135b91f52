"""Purges of raw data: retention, options, dry-run, resume, lock, visitor erasure."""

import contextlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.services import admin_key_create
from visitors import purge
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _raw():
    return (Assignment.objects.count(), GoalEvent.objects.count(), Credit.objects.count())


@pytest.fixture
def history(api, agent, express_target, rest_target):
    """Visitors 40 days ago (beyond the 30-day retention) and 2 days ago (within it)."""
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=40), tick=False):
        for i in range(6):
            api.data(express_target, [{"a": "a-hero"}], session=f"old-{i}", vid=f"old-{i}")
            api.data(rest_target, [{"g": "g-purchase", "v": 3}], session=f"old-{i}", vid=f"old-{i}")
    with time_machine.travel(start - timedelta(days=2), tick=False):
        for i in range(4):
            api.data(express_target, [{"a": "a-hero"}], session=f"new-{i}", vid=f"new-{i}")
            api.data(rest_target, [{"g": "g-purchase", "v": 5}], session=f"new-{i}", vid=f"new-{i}")
    return agent


def _report(client, agent):
    _, key = admin_key_create(account=agent.account)
    url = f"/api/ac-acme/agents/a-hero/report?from={(timezone.now() - timedelta(days=60)).date()}"
    return client.get(url, headers={"x-conductrics-apikey": key}).json()


def test_purge__deletes_what_is_older_than_retention_and_keeps_the_rest(history):
    assert _raw() == (10, 10, 10)
    out = _run("purge_events")
    assert _raw() == (4, 4, 4)
    assert set(Assignment.objects.values_list("session", flat=True)) == {
        f"new-{i}" for i in range(4)
    }
    assert "deleted 6 assignments, 6 goal events and 6 credits" in out
    assert "Deleted 18 rows" in out


def test_purge__leaves_every_report_unchanged(client, history):
    before = _report(client, history)
    call_command("purge_events", "--older-than", "0", "--force", stdout=io.StringIO())
    assert _raw() == (0, 0, 0)
    assert _report(client, history) == before


def test_purge__dry_run__counts_and_deletes_nothing(history):
    out = _run("purge_events", "--dry-run")
    assert "would delete 6 assignments, 6 goal events and 6 credits" in out
    assert _raw() == (10, 10, 10)


def test_purge__older_than__below_the_window_needs_force(history):
    with pytest.raises(CommandError, match="attribution window"):
        call_command("purge_events", "--older-than", "1", stdout=io.StringIO())
    assert _raw() == (10, 10, 10)
    _run("purge_events", "--older-than", "1", "--force")
    assert _raw() == (0, 0, 0)


def test_purge__older_than__longer_keeps_more(history):
    _run("purge_events", "--older-than", "50")
    assert _raw() == (10, 10, 10)


def test_purge__account__only_that_one(history, api, other_setup, other_account):
    other_setup["agent"].status = "running"
    other_setup["agent"].save()
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        api.data(other_setup["target"], [{"a": "a-hero"}], session="x", account="ac-other")
    _run("purge_events", "--account", "ac-other")
    assert Assignment.objects.filter(account=other_account).count() == 0
    assert Assignment.objects.filter(account=history.account).count() == 10
    with pytest.raises(CommandError, match="No account"):
        call_command("purge_events", "--account", "ac-nope", stdout=io.StringIO())


def test_purge__small_batches__report_progress_and_finish(history):
    out = _run("purge_events", "--batch-size", "2", "--verbosity", "2")
    assert _raw() == (4, 4, 4)
    assert out.count("batch ") >= 6
    assert "rows/s" in out
    assert "slowest batch" in out


def test_purge__bad_batch_size__is_a_clear_error(history):
    with pytest.raises(CommandError, match="batch-size"):
        call_command("purge_events", "--batch-size", "0", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--older-than", "1000000000", "from 0 to 36500 days"),
        ("--older-than", "-1", "from 0 to 36500 days"),
        ("--pause", "nan", "--pause must be a number"),
        ("--pause", "inf", "--pause must be a number"),
        ("--pause", "-1", "--pause must be a number"),
    ],
)
def test_purge__out_of_range_option__is_a_clear_error_and_deletes_nothing(
    history, option, value, message
):
    before = Assignment.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("purge_events", option, value, "--force", stdout=io.StringIO())
    assert Assignment.objects.count() == before


def test_purge__verbosity_0__prints_nothing(history):
    assert _run("purge_events", "--verbosity", "0") == ""


def test_purge__killed_half_way__run_again_finishes(history, monkeypatch):
    original = purge._delete_range
    calls = {"n": 0}

    class Killed(Exception):
        pass

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(purge, "_delete_range", dying)
    with pytest.raises(Killed):
        call_command("purge_events", "--batch-size", "2", stdout=io.StringIO())
    monkeypatch.undo()
    left = _raw()
    assert left != (10, 10, 10)  # the batches before the kill are done
    assert left != (4, 4, 4)  # and the job is not
    _run("purge_events", "--batch-size", "2")
    assert _raw() == (4, 4, 4)


@contextlib.contextmanager
def _another_purge_running():
    """Hold the purge lock as another process would: PostgreSQL's advisory lock from a
    second session, or the lock file through a second open file."""
    from django.db import connection

    if connection.vendor != "postgresql":
        with purge.purge_lock():
            yield
        return
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [purge._LOCK_KEY])
        yield


def test_purge__second_purge_while_one_runs__exits_with_a_clear_message(history):
    with _another_purge_running(), pytest.raises(CommandError, match="Another purge is running"):
        call_command("purge_events", stdout=io.StringIO())
    assert _raw() == (10, 10, 10)
    _run("purge_events")  # the lock is free again
    assert _raw() == (4, 4, 4)


def test_purge_visitor__by_vid__erases_its_rows_and_sessions(history, api, express_target):
    api.data(express_target, [{"a": "a-hero"}], session="new-0")  # same session, no vid
    before = _raw()
    out = _run("purge_visitor", "--account", "ac-acme", "--vid", "new-0")
    assert "Erased 2 assignments, 1 goal events and 1 credits" in out
    assert _raw() == (before[0] - 2, before[1] - 1, before[2] - 1)
    assert not Assignment.objects.filter(session="new-0").exists()


def test_purge_visitor__by_session(history):
    out = _run("purge_visitor", "--account", "ac-acme", "--session", "old-1")
    assert "Erased 1 assignments, 1 goal events and 1 credits" in out
    assert not Assignment.objects.filter(session="old-1").exists()


def test_purge_visitor__dry_run_and_errors(history):
    out = _run("purge_visitor", "--account", "ac-acme", "--vid", "old-2", "--dry-run")
    assert "Would erase 1 assignments, 1 goal events and 1 credits" in out
    assert _raw() == (10, 10, 10)
    with pytest.raises(CommandError, match="No account"):
        call_command("purge_visitor", "--account", "ac-x", "--vid", "v", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("purge_visitor", "--account", "ac-acme", stdout=io.StringIO())


def test_purged_visitor__later_goal__finds_no_assignment_and_says_so(
    history, api, rest_target, client
):
    before = _report(client, history)
    _run("purge_visitor", "--account", "ac-acme", "--vid", "new-1")
    [item] = api.data(rest_target, [{"g": "g-purchase"}], session="later", vid="new-1")["items"]
    assert item.pop("t")
    assert item == {"g": "g-purchase", "s": "none", "rs": [], "skipped": []}
    assert _report(client, history) == before


def test_visitor_api__delete_erases_like_the_command(history):
    from django.test import Client

    _, key = admin_key_create(account=history.account)
    response = Client().delete("/api/ac-acme/visitors/new-2", headers={"x-conductrics-apikey": key})
    assert response.status_code == 200
    assert response.json() == {"assignments": 1, "goal_events": 1, "credits": 1, "links": 0}
    assert not Assignment.objects.filter(vid="new-2").exists()


def test_forget_visitor_form__in_the_admin(admin_client, history):
    url = reverse("admin:accounts_account_forget_visitor", args=[history.account.pk])
    assert (
        url
        in admin_client.get(
            reverse("admin:accounts_account_change", args=[history.account.pk])
        ).content.decode()
    )
    assert admin_client.get(url).status_code == 200
    refused = admin_client.post(url, {})
    assert "Give either" in refused.content.decode()
    response = admin_client.post(url, {"vid": "new-3"}, follow=True)
    assert "Erased 1 assignments, 1 goal events and 1 credits" in response.content.decode()
    assert not Assignment.objects.filter(vid="new-3").exists()


def test_purge__each_table_by_its_own_age__a_younger_credit_stays(
    api, agent, express_target, rest_target
):
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=35), tick=False):
        api.data(express_target, [{"a": "a-hero"}], session="s", vid="v")
    with time_machine.travel(start - timedelta(days=33), tick=False):
        api.data(rest_target, [{"g": "g-purchase"}], session="s2", vid="v")  # 2 days later
    with time_machine.travel(start - timedelta(days=31), tick=False):
        assert _raw() == (1, 1, 1)
    _run("purge_events", "--older-than", "34")
    assert _raw() == (0, 1, 1)  # the assignment is 35 days old; its credit and event 33
    _run("purge_events")
    assert _raw() == (0, 0, 0)


@pytest.mark.parametrize(
    ("vid", "path"),
    [("shop/42", "shop%2F42"), ("shop/42", "shop/42/"), ("a/b/c", "a/b/c"), ("ends/", "ends//")],
)
def test_visitor_api__delete_erases_a_vid_containing_a_slash(api, agent, rest_target, vid, path):
    """Hardening 2, item 6: a `/` in a vid, sent as %2F or as it is (WSGI decodes both
    alike); one trailing `/` is the URL's own, so a vid ending in `/` is sent with two."""
    from django.test import Client

    api.data(rest_target, [{"a": "a-hero"}], session="s-slash", vid=vid)
    assert Assignment.objects.filter(vid=vid).count() == 1
    _, key = admin_key_create(account=rest_target.account)
    headers = {"x-conductrics-apikey": key}
    response = Client().delete(f"/api/ac-acme/visitors/{path}", headers=headers)
    assert response.status_code == 200, response.content
    assert response.json()["assignments"] == 1
    assert not Assignment.objects.filter(vid=vid).exists()


def test_visitor_api__delete_of_a_vid_no_page_could_send__answered_json(account):
    """A newline or a control character in the path (no vid could hold one) still reaches
    the view: nothing to erase, answered in JSON, never the framework's HTML 404."""
    from django.test import Client

    _, key = admin_key_create(account=account)
    response = Client().delete(
        "/api/ac-acme/visitors/two%0Alines%0C/x/", headers={"x-conductrics-apikey": key}
    )
    assert response.status_code == 200
    assert response.json() == {"assignments": 0, "goal_events": 0, "credits": 0, "links": 0}


def test_purge__an_uploaded_files_rows_past_retention_are_deleted(account, rest_target):
    """An admin import holds the file's rows until judged: kept no longer than raw data."""
    import io as _io

    from visitors.imports import goal_import_create
    from visitors.models import GoalImport, GoalImportPart

    def upload(days_ago, status):
        with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
            made = goal_import_create(account_id=account.pk, target_id=rest_target.pk,
                                      name="o.csv", stream=_io.BytesIO(b"vid,g\nv1,g-purchase\n"),
                                      size=20)  # fmt: skip
        GoalImport.objects.filter(pk=made.pk).update(status=status)
        return made.pk

    old_preview, old_running = upload(40, "preview"), upload(40, "running")
    new_preview = upload(2, "preview")
    _run("purge_events")
    assert set(GoalImport.objects.values_list("pk", flat=True)) == {old_running, new_preview}
    assert GoalImport.objects.get(pk=old_running).status == "done"  # stopped where it was
    assert not GoalImportPart.objects.filter(goal_import_id=old_running).exists()
    assert GoalImportPart.objects.filter(goal_import_id=new_preview).exists()
    assert old_preview not in GoalImport.objects.values_list("pk", flat=True)
