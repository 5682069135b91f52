"""Benchmark: the results of an agent with 1,000,000 visitors and 200,000 conversions over
90 days, rendered by the report API and the admin results page.

Reports read aggregates only, so their cost depends on days × variations × goals, not on
traffic. This script loads the aggregates that such traffic leaves (and, with
--raw-rows N, N raw assignments too, to show they are not read), then times both
renderings and counts their queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/report.py [--raw-rows 1000000]
"""

import argparse
import statistics
import time
from datetime import timedelta

from _django import throwaway_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-rows", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    with throwaway_database():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        _run(args, connection, CaptureQueriesContext)


def _run(args, connection, capture) -> None:
    import random

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from accounts.services import account_create, admin_key_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create
    from reports.models import GoalDay, VisitorDay
    from targets.services import target_create
    from visitors.models import Assignment

    account = account_create(code="ac-bench", name="Bench", retention_days=120)
    web = target_create(account=account, name="Web", allow_external_vid=True)
    goal = goal_create(account=account, code="g-buy", name="Buy", trigger=GoalTrigger.API)
    agent = agent_create(
        account=account, code="a-bench", name="Bench", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[goal],
        targets=[web],
    )  # fmt: skip
    variations = list(agent.variations.all())
    today = timezone.now().date()
    rng = random.Random(7)
    visitor_rows, goal_rows = [], []
    for d in range(90):
        day = today - timedelta(days=89 - d)
        for variation in variations:
            for channel in ("client", "server"):
                n = 1_000_000 // (90 * 2 * 2)
                c = 200_000 // (90 * 2 * 2)
                visitor_rows.append(VisitorDay(account=account, agent=agent, variation=variation,
                                               day=day, channel=channel, visitors=n))  # fmt: skip
                value = sum(rng.uniform(5, 50) for _ in range(10)) * c / 10
                goal_rows.append(GoalDay(account=account, agent=agent, variation=variation,
                                         goal=goal, day=day, channel=channel, conversions=c,
                                         credits=c,
                                         value_sum=value, value_sumsq=value * 40))  # fmt: skip
    VisitorDay.objects.bulk_create(visitor_rows)
    GoalDay.objects.bulk_create(goal_rows)
    _, key = admin_key_create(account=account)
    admin = get_user_model().objects.create_superuser("bench", password="bench-pw-123")
    client = Client()
    client.force_login(admin)
    span = f"from={today - timedelta(days=89)}&to={today}"
    api_url = f"/api/ac-bench/agents/a-bench/report?{span}"
    page_url = f"/admin/agents/agent/{agent.pk}/results/?{span}"

    def insert_raw() -> None:
        now = timezone.now()
        batch = []
        for i in range(args.raw_rows):
            batch.append(
                Assignment(
                    account=account,
                    agent=agent,
                    variation=variations[i % 2],
                    identity=f"s:{i}",
                    session=str(i),
                    target=web,
                    target_kind="express",
                    created_at=now,
                    confirmed_at=now,
                )
            )
            if len(batch) == 10_000:
                Assignment.objects.bulk_create(batch)
                batch = []
        Assignment.objects.bulk_create(batch)  # fmt: skip

    def timed(fetch) -> tuple[float, float, int]:
        fetch()  # warm-up
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fetch()
            times.append(time.perf_counter() - start)
        with capture(connection) as queries:
            fetch()
        return statistics.median(times), max(times), len(queries.captured_queries)

    def api():
        response = client.get(api_url, headers={"x-conductrics-apikey": key})
        assert response.status_code == 200, response.content
        return response

    def page():
        response = client.get(page_url)
        assert response.status_code == 200
        return response

    report = api().json()
    visitors = sum(v["visitors"] for v in report["goals"][0]["variations"])
    conversions = sum(v["conversions"] for v in report["goals"][0]["variations"])
    print(f"database: {connection.vendor}")
    print(f"report covers {visitors:,} visitors, {conversions:,} conversions, 90 days")
    before = {name: timed(fetch) for name, fetch in (("report API", api), ("results page", page))}
    after = before
    if args.raw_rows:
        insert_raw()
        after = {
            name: timed(fetch) for name, fetch in (("report API", api), ("results page", page))
        }
    print(f"raw assignments stored: {Assignment.objects.count():,}")
    for name in before:
        (m0, _, q0), (m1, w1, q1) = before[name], after[name]
        print(
            f"{name:13s} median {m1 * 1000:7.1f} ms  max {w1 * 1000:7.1f} ms  queries {q1}  "
            f"| with/without raw rows: median x{m1 / m0:.2f}, queries {q1}/{q0}  "
            f"| target < 500 ms: {'met' if w1 < 0.5 else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
