"""The seed's flow in local mode (SPEC §5), in a real Chromium: the page decides in the
browser with the vid from the preboot, reports the decision (also when closed right
after), and the server-side goal by vid is credited to the variation the page showed."""

import io
import json
import time
import urllib.request

import pytest
from django.core.management import call_command
from django.db import OperationalError

from agents.demo import DEMO_REST_TARGET
from targets.models import DeployTarget, RecentRequest
from visitors.models import Assignment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(live_server, settings):
    settings.DEMO_ENABLED = True
    settings.RECENT_REQUESTS_FLUSH_SECONDS = 0
    call_command("seed_demo", stdout=io.StringIO())
    return live_server.url


def _visit(context, page, url, vid):
    context.add_cookies([{"name": "our_visitor_id", "value": vid, "url": url}])
    page.goto(url + "/demo/?mode=local")
    page.wait_for_selector("#headline[data-state=shown]", timeout=10_000)
    return {
        "variation": page.get_attribute("#headline", "data-variation"),
        "answers_before": int(page.get_attribute("#headline", "data-api-answers-before")),
    }


def _assignment(vid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = (
                Assignment.objects.filter(identity=f"v:{vid}").select_related("variation").first()
            )
        except OperationalError:  # SQLite: the live server is writing it ("table is locked")
            found = None
        if found is not None:
            return found
        time.sleep(0.1)
    return None


def _rest_goal(url, vid, value=19.99):
    key = DeployTarget.objects.get(code=DEMO_REST_TARGET).api_key
    request = urllib.request.Request(  # noqa: S310 - the live test server
        f"{url}/ac-demo/v3/agent-api?vid={vid}&session={vid}&apikey={key}",
        data=json.dumps({"commands": [{"g": "g-purchase", "v": value}]}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())["data"]["items"][0]


def test_local_mode__decided_in_the_browser_reported_and_credited_by_vid(
    context, page, demo, output_dir
):
    first = _visit(context, page, demo, "lana-123")  # a first visit: the bundle loads
    assert first["variation"] in {"A", "B"}
    assignment = _assignment("lana-123")
    assert assignment is not None, "the local decision never reached the server"
    assert assignment.variation.code == first["variation"]
    assert assignment.target_kind == "express"
    assert assignment.policy == "r"

    again = _visit(context, page, demo, "lana-123")  # the bundle kept: no round trip
    assert again["variation"] == first["variation"]
    assert again["answers_before"] == 0
    page.screenshot(path=str(output_dir / "demo-local.png"), full_page=True)

    goal = _rest_goal(demo, "lana-123")
    assert goal["s"] == "ok"
    assert goal["rs"] == [{"a": "a-hero", "c": first["variation"], "v": 19.99}]
    assert Assignment.objects.filter(identity="v:lana-123").count() == 1


def test_local_mode__closed_right_after_the_decision__the_report_still_arrives(context, page, demo):
    _visit(context, page, demo, "warm-up-1")  # keeps the bundle in this browser
    shown = _visit(context, page, demo, "mia-456")
    assert shown["answers_before"] == 0
    page.close(run_before_unload=True)  # at once: the batch is still waiting to go
    assignment = _assignment("mia-456")
    assert assignment is not None, "the report was lost when the page closed"
    assert assignment.variation.code == shown["variation"]
    goal = _rest_goal(demo, "mia-456", value=5)
    assert goal["rs"] == [{"a": "a-hero", "c": shown["variation"], "v": 5.0}]


def test_local_mode__the_servers_assignment_wins_on_another_device(browser, demo):
    from agents.demo import DEMO_AGENT
    from agents.models import Agent
    from agents.services import VariationSpec, agent_update

    phone = browser.new_context()  # the visitor saw a variation on one device...
    shown = _visit(phone, phone.new_page(), demo, "ada-789")["variation"]
    phone.close()
    assert _assignment("ada-789") is not None
    other = "B" if shown == "A" else "A"
    # ...then the weights changed, so that the laptop decides the other one locally
    agent_update(
        agent=Agent.objects.get(code=DEMO_AGENT),
        variations=[VariationSpec(shown, weight=0), VariationSpec(other, weight=1)],
    )
    laptop = browser.new_context()
    page = laptop.new_page()
    assert _visit(laptop, page, demo, "ada-789")["variation"] == other
    page.wait_for_function(  # the report's answer: the server's assignment, kept in storage
        "v => (JSON.parse(localStorage.getItem('conductrics_decisions:ac-demo')) || {})"
        "['a-hero'].c === v",
        arg=shown,
        timeout=10_000,
    )
    assert RecentRequest.objects.filter(reasons__contains="assignment_kept").count() == 1
    # the server kept the first assignment: the laptop shows it from its next page on
    assert _visit(laptop, page, demo, "ada-789")["variation"] == shown
    assert Assignment.objects.filter(agent__code=DEMO_AGENT, identity="v:ada-789").count() == 1
    laptop.close()
