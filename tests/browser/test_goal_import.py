"""The admin's import of offline conversions as a person uses it (SPEC §4c "Offline
import"): upload, the preview, start, the progress bar, closing the page (paused) and
opening it again (resumed), the result with its counts and report."""

import time

import pytest

from agents.demo import DEMO_ACCOUNT, DEMO_AGENT, DEMO_EXPRESS_TARGET, DEMO_REST_TARGET
from targets.models import DeployTarget
from visitors import admin_import, imports
from visitors.models import Assignment, GoalEvent, GoalImport

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_parts(monkeypatch):
    """Parts of 40 rows, each judged in no less than 0.3 s: progress a person can see."""
    monkeypatch.setattr(imports, "SLICE", 40)
    step = admin_import.goal_import_step

    def slowly(goal_import_id):
        time.sleep(0.3)
        return step(goal_import_id)

    monkeypatch.setattr(admin_import, "goal_import_step", slowly)


def test_goal_import__preview_progress_resume_result(demo_admin, page, context, output_dir,
                                                     slow_parts, api):  # fmt: skip
    demo_admin(page, "/admin/")  # seeds the demo
    express = DeployTarget.objects.get(account__code=DEMO_ACCOUNT, code=DEMO_EXPRESS_TARGET)
    vids = [f"crm-{i}" for i in range(150)]  # visitors the page saw
    for vid in vids:
        api.data(express, [{"a": DEMO_AGENT}], session=f"p-{vid}", vid=vid, account=DEMO_ACCOUNT)
    assert Assignment.objects.filter(vid__in=vids).count() == len(vids)
    rows = [f"{vid},g-purchase,{10 + i % 7},o-{i}" for i, vid in enumerate(vids)]
    rows += ["nobody-1,g-purchase,5,o-x", "nobody-2,g-purchase,lots,o-y"]
    text = "vid,g,v,id\n" + "\n".join(rows) + "\n"
    target = DeployTarget.objects.get(account__code=DEMO_ACCOUNT, code=DEMO_REST_TARGET)
    page.goto(page.url.split("/admin/")[0] + f"/admin/targets/deploytarget/{target.pk}/change/")
    page.click("a.import-link")
    page.set_input_files("#id_file", files=[{"name": "crm-export.csv", "mimeType": "text/csv",
                                             "buffer": text.encode()}])  # fmt: skip
    page.click("input[type=submit][value='Upload and preview']")
    page.wait_for_selector("table.import-preview")
    assert page.locator("table.import-preview tbody tr").count() == imports.PREVIEW_ROWS
    assert not GoalEvent.objects.filter(event_id__startswith="o-").exists()
    page.screenshot(path=str(output_dir / "goal-import-preview.png"), full_page=True)

    page.click("#import-start")
    page.wait_for_function("document.getElementById('import-progress').value >= 80")
    assert "rows/s" in page.inner_text("#import-rate")
    page.screenshot(path=str(output_dir / "goal-import-progress.png"), full_page=True)
    url = page.url
    page.close()  # the page closed: the import pauses
    time.sleep(1)
    paused = GoalImport.objects.get()
    assert paused.status == GoalImport.Status.RUNNING
    assert 0 < paused.parts_done < paused.parts

    again = context.new_page()  # opened again: it resumes where it stopped
    again.goto(url)
    again.wait_for_selector(".goal-import[data-status=done]", timeout=30_000)
    done = GoalImport.objects.get()
    assert done.rows_done == len(rows)
    assert again.inner_text("td[data-verdict=err]") == "1"
    assert int(again.inner_text("td[data-verdict=ok]")) >= 1
    assert again.locator("a.import-report").count() == 1
    again.screenshot(path=str(output_dir / "goal-import-result.png"), full_page=True)
    assert GoalEvent.objects.filter(event_id__startswith="o-").count() == len(rows) - 1
