"""Concurrency settled by the database: parallel identical requests record once (PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from tests.helpers import in_parallel
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db(transaction=True)

PARALLEL = 20


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "parallel writers need PostgreSQL; SQLite serialises them (run with DATABASE_URL)"
        )


def _parallel(url, body):
    def post():
        response = Client().post(url, data=body, content_type="text/plain")
        return response.status_code, response.json()

    return in_parallel(PARALLEL, post)


def test_parallel_first_selections__make_one_assignment(agent, express_target):
    url = f"/ac-acme/v3/agent-api?session=race&vid=lana-123&apikey={express_target.api_key}"
    answers = _parallel(url, '[{"a": "a-hero"}]')
    assert {status for status, _ in answers} == {200}
    assert len({body["data"]["items"][0]["c"] for _, body in answers}) == 1
    assert Assignment.objects.count() == 1


@pytest.fixture
def lana_selected(client, agent, express_target):
    """lana-123 has seen a-hero on the Express target."""
    client.post(
        f"/ac-acme/v3/agent-api?session=p&vid=lana-123&apikey={express_target.api_key}",
        data='[{"a": "a-hero"}]',
        content_type="text/plain",
    )


def test_parallel_goals_with_one_id__make_one_event_and_one_credit(lana_selected, rest_target):
    url = f"/ac-acme/v3/agent-api?session=lana-123&vid=lana-123&apikey={rest_target.api_key}"
    answers = _parallel(url, '[{"g": "g-purchase", "v": 19.99, "id": "evt-123"}]')
    assert {status for status, _ in answers} == {200}
    items = [body["data"]["items"][0] for _, body in answers]
    assert sum(1 for item in items if not item.get("replay")) == 1
    assert {item["s"] for item in items} == {"ok"}
    assert GoalEvent.objects.count() == 1
    assert Credit.objects.count() == 1


def test_parallel_once_goals_without_id__make_one_credit(lana_selected, rest_target):
    url = f"/ac-acme/v3/agent-api?session=lana-123&vid=lana-123&apikey={rest_target.api_key}"
    answers = _parallel(url, '[{"g": "g-purchase", "v": 5}]')
    statuses = [body["data"]["items"][0]["s"] for _, body in answers]
    assert statuses.count("ok") == 1
    assert Credit.objects.count() == 1
    assert GoalEvent.objects.count() == PARALLEL
    from django.db.models import Sum

    from reports.models import GoalDay

    totals = GoalDay.objects.aggregate(c=Sum("conversions"), n=Sum("credits"))
    assert (totals["c"], totals["n"]) == (1, 1)


def test_parallel_traffic__aggregates_agree_with_raw_rows(agent, express_target, rest_target):
    """Different visitors at once: no increment of the report aggregates is lost."""
    from django.db.models import Sum

    from reports.models import GoalDay, VisitorDay

    barrier = threading.Barrier(PARALLEL)
    errors = []

    def visitor(i):
        try:
            client = Client()
            barrier.wait()
            for target, body in (
                (express_target, '[{"a": "a-hero"}]'),
                (rest_target, '[{"g": "g-purchase", "v": 2}]'),
            ):
                url = f"/ac-acme/v3/agent-api?session=s{i}&vid=v{i}&apikey={target.api_key}"
                response = client.post(url, data=body, content_type="text/plain")
                assert response.status_code == 200, response.content
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert Assignment.objects.count() == PARALLEL
    assert VisitorDay.objects.aggregate(n=Sum("visitors"))["n"] == PARALLEL
    totals = GoalDay.objects.aggregate(c=Sum("conversions"), v=Sum("value_sum"))
    assert totals["c"] == Credit.objects.filter(first=True).count() == PARALLEL
    assert totals["v"] == 2 * PARALLEL


def test_parallel_confirmations__count_the_visitor_once(client, agent, express_target):
    from django.db.models import Sum

    from reports.models import VisitorDay

    url = f"/ac-acme/v3/agent-api?session=race&vid=lana-123&apikey={express_target.api_key}"
    provisional = client.post(url, data='[{"a": "a-hero", "s": "p"}]', content_type="text/plain")
    assert provisional.json()["data"]["items"][0]["s"] == "p"
    assert not VisitorDay.objects.exists()
    answers = _parallel(url, '[{"a": "a-hero", "s": "ok"}]')
    assert {status for status, _ in answers} == {200}
    assert {body["data"]["items"][0]["s"] for _, body in answers} == {"ok"}
    assert VisitorDay.objects.aggregate(n=Sum("visitors"))["n"] == 1
    assert Assignment.objects.get().confirmed_at is not None


def test_parallel_key_rotations__each_answer_is_live_or_refused(express_target):
    """Rotations racing from one key: each answers 200 with the key it made live, or 409;
    the key left live is one a 200 answered (none lost, none answered dead silently)."""
    from accounts.services import admin_key_create
    from targets.models import DeployTarget

    _, admin_key = admin_key_create(account=express_target.account)

    def rotate():
        client = Client(headers={"authorization": f"Bearer {admin_key}"})
        response = client.post("/api/ac-acme/targets/dt-web/rotate-key/")
        return response.status_code, response.json()

    answers = in_parallel(PARALLEL, rotate)
    assert {status for status, _ in answers} <= {200, 409}
    answered = [body["api_key"] for status, body in answers if status == 200]
    assert answered
    assert DeployTarget.objects.get(pk=express_target.pk).api_key in answered


def test_parallel_aliases_of_one_pair__link_once_and_answer_ok_once(agent, rest_target):
    """The same link sent at once by many servers: one ok, the others none (linked
    already), two rows; a conflict, if any, counted once."""
    from visitors.models import VisitorLink

    url = f"/ac-acme/v3/agent-api?session=s&vid=cookie-1&apikey={rest_target.api_key}"
    answers = _parallel(url, '[{"alias": "cust-1"}]')
    assert {status for status, _ in answers} == {200}
    verdicts = sorted(body["data"]["items"][0]["s"] for _, body in answers)
    assert verdicts == ["none"] * (PARALLEL - 1) + ["ok"]
    assert VisitorLink.objects.count() == 2


def test_parallel_aliases_to_one_person__never_pass_the_limit(agent, rest_target):
    """Many new ids linked to one person at once: at most ten ids, the rest alias_limit."""
    from tests.helpers import in_parallel
    from visitors.links import ALIAS_LIMIT
    from visitors.models import VisitorLink

    counter, lock = iter(range(PARALLEL)), threading.Lock()

    def post():
        with lock:
            n = next(counter)
        response = Client().post(
            f"/ac-acme/v3/agent-api?session=s{n}&vid=cookie-{n}&apikey={rest_target.api_key}",
            data='[{"alias": "cust-1"}]', content_type="text/plain",
        )  # fmt: skip
        return response.status_code, response.json()

    answers = in_parallel(PARALLEL, post)
    assert {status for status, _ in answers} == {200}
    verdicts = [body["data"]["items"][0] for _, body in answers]
    assert sum(1 for v in verdicts if v["s"] == "ok") == ALIAS_LIMIT - 1
    assert {v.get("err") for v in verdicts if v["s"] == "err"} == {"alias_limit"}
    assert VisitorLink.objects.count() == ALIAS_LIMIT
