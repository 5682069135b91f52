"""The hot path's budget: at most 3 SQL round trips per request, whatever the commands."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import AgentStatus
from agents.services import VariationSpec, agent_create

# transactional: the request's own transaction is then the outermost one, as in production
# (inside a test transaction it would add SAVEPOINT statements that production never sends).
pytestmark = pytest.mark.django_db(transaction=True)

# PostgreSQL, the production database, writes a request in one statement: a read and a
# write. SQLite, in-process (no round trips) and without data-modifying CTEs, runs one
# statement per table it writes (assignments, events, credits, two aggregates): still a
# fixed number whatever the commands, which is what its budget checks.
BUDGET = 3 if connection.vendor == "postgresql" else 6
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class _Statements:
    """Counts the SQL statements a request sends, transaction control aside.

    On PostgreSQL a request's writes are one statement that needs no BEGIN/COMMIT (Django
    does not log those there anyway); SQLite, which runs in-process with no round trips,
    logs its BEGIN/COMMIT, which are left out so both databases are held to one budget.
    """

    def __init__(self, limit):
        self.limit = limit
        self.capture = CaptureQueriesContext(connection)

    def __enter__(self):
        self.capture.__enter__()
        return self

    def __exit__(self, *exc):
        self.capture.__exit__(*exc)
        if exc[0] is None:
            statements = [
                q["sql"]
                for q in self.capture.captured_queries
                if not q["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
            ]
            assert len(statements) <= self.limit, "\n".join(statements)


@pytest.fixture
def statements():
    return _Statements


@pytest.fixture
def warm(api, agent, express_target, rest_target):
    """Nine more agents on both targets, and a warm configuration cache."""
    for i in range(9):
        agent_create(
            account=agent.account,
            code=f"a-t{i}",
            name=f"T{i}",
            status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B")],
            goals=list(agent.goals.all()),
            targets=[express_target, rest_target],
        )
    api.data(express_target, [], session="warm-up")
    return agent


@pytest.fixture(autouse=True)
def _diagnostics_sent_apart(settings):
    """Goal diagnostics and the match rate go to the database once a second per process,
    not per request: those periodic statements are not a request's (tests elsewhere send
    them at once)."""
    from goals import diagnostics, match_rate
    from runtime import recent

    settings.GOAL_DIAGNOSTICS_FLUSH_SECONDS = 3600
    diagnostics.goal_outcomes_flush()  # the next send is an hour away
    match_rate.goal_matches_flush()  # the match rate's counts go with them
    settings.RECENT_REQUESTS_FLUSH_SECONDS = 3600  # likewise the notes of recent requests
    recent.recent_requests_flush()


def test_budget__first_selection(api, warm, express_target, statements):
    with statements(BUDGET):
        api.data(express_target, [{"a": "a-hero"}], session="new", vid="v-1")


def test_budget__sticky_selection(api, warm, express_target, statements):
    api.data(express_target, [{"a": "a-hero"}], session="again")
    with statements(1):
        api.data(express_target, [{"a": "a-hero"}], session="again")


def test_budget__rest_goal_matched_by_vid(api, warm, express_target, rest_target, statements):
    api.data(express_target, [{"a": f"a-t{i}"} for i in range(9)], session="p", vid="lana")
    with statements(BUDGET):
        data = api.data(rest_target, [{"g": "g-purchase", "v": 2}], session="lana", vid="lana")
    assert len(data["items"][0]["rs"]) == 9


def test_budget__mixed_request_of_10_commands(api, warm, express_target, rest_target, statements):
    api.data(express_target, [{"a": "a-t0"}], session="m", vid="mixed")
    commands = [{"a": f"a-t{i}"} for i in range(1, 8)] + [
        {"g": "g-purchase", "v": 1, "id": "e-1"},
        {"g": "g-purchase", "v": 1},
        {"a": "a-t0"},
    ]
    with statements(BUDGET):
        data = api.data(rest_target, commands, session="m", vid="mixed")
    assert len(data["items"]) == 10


def test_read__generic_plan_made_on_empty_tables__reads_by_visitor_not_by_goal(agent):
    """The read is planned once per connection, often while the tables are still small:
    its plan must look the visitor's credits up, never hash every credit of the goal.
    (Which index it uses on empty tables is a tie; ANALYZE, run by autovacuum as the
    tables grow, makes PostgreSQL plan the statement again.)"""
    import re

    from accounts.distribution import distributed
    from visitors.selectors import _assignments_sql

    if connection.vendor != "postgresql" or distributed():
        pytest.skip("PostgreSQL's own plans (Citus refuses the generic plan, docs/scaling.md)")
    goal = agent.goals.get()
    sql, params = _assignments_sql(
        account_id=agent.account_id, agent_ids=[agent.pk], session="s", vid="v",
        goal_ids=[goal.pk], every_goal_ids=[goal.pk],
    )  # fmt: skip
    numbered = iter(range(1, len(params) + 1))
    prepared = re.sub("%s", lambda _: f"${next(numbered)}", sql)
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE hot_read AS {prepared}")
        literals = ", ".join(f"'{p}'" if isinstance(p, str) else str(p) for p in params)
        cursor.execute(f"EXPLAIN EXECUTE hot_read({literals})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE hot_read")
        cursor.execute("RESET plan_cache_mode")
    # A hashed subplan reads every credit of the goal into a hash table on each request.
    # PostgreSQL plans one as an alternative to each EXISTS it can hash and shows only the
    # one it chose, so the subplans' numbers have gaps (1, 3, 5) when alternatives existed.
    assert "hashed SubPlan" not in plan, plan
    # (the person's ids, SPEC §4d, are InitPlans numbered among them)
    numbers = sorted({int(n) for n in re.findall(r"(?:Sub|Init)Plan (\d+)", plan)})
    assert numbers == list(range(1, len(numbers) + 1)), plan
    # the person's ids: the vid by the unique key (account, vid), the others by person
    assert "Index Scan using visitor_link_one_person" in plan, plan
    assert "Index Scan using visitor_link_by_person" in plan, plan
    assert "Seq Scan on visitors_visitorlink" not in plan, plan
    # the visitor's events by its own indexes, never every event of the goal
    assert "goal_event_by_session" in plan, plan
    assert "goal_event_by_vid" in plan, plan
    assert "goals_goalevent_goal_id" not in plan, plan


@pytest.fixture
def targeted(warm, express_target):
    """An agent whose eligibility and rules read every source: inputs, traits (of the ua),
    random, target, a goal reached, a variation held in another agent."""
    condition = {"all": [
        {"source": "input", "name": "plan", "op": "in", "values": ["gold", "silver"]},
        {"source": "trait", "name": "ua/mo", "op": "eq", "value": "n"},
        {"source": "random", "op": "lte", "value": 100},
        {"source": "target", "op": "eq", "value": "dt-web"},
        {"any": [
            {"source": "goal", "name": "g-purchase", "op": "not_reached"},
            {"source": "variation", "name": "a-t0", "op": "set"},
        ]},
    ]}  # fmt: skip
    rules = [
        {"name": f"r{i}", "when": {"source": "variation", "name": "a-t1", "op": "eq",
                                   "value": "Z"}, "variation": "B"}
        for i in range(4)
    ] + [{"name": "bought", "when": {"source": "goal", "name": "g-purchase", "op": "reached",
                                     "within_hours": 24}, "variation": "B"}]  # fmt: skip
    agent_create(
        account=warm.account, code="a-targeted", name="Targeted", status=AgentStatus.RUNNING,
        variations=[VariationSpec(code="A"), VariationSpec(code="B")],
        goals=list(warm.goals.all()), targets=[express_target], eligibility=condition,
        rules=rules,
    )  # fmt: skip
    api_warm_up = {"inputs": {"plan": "gold"}, "commands": []}
    return api_warm_up


def test_budget__conditions_on_every_source_add_no_round_trip(
    api, targeted, express_target, rest_target, statements
):
    api.data(express_target, targeted, session="warm-2")  # the new agent in the snapshot
    api.data(express_target, [{"a": "a-t0"}], session="c", vid="cond")
    api.data(rest_target, [{"g": "g-purchase"}], session="srv", vid="cond")
    body = {"commands": [{"a": "a-targeted"}, {"a": "a-t1"}], "inputs": {"plan": "gold"}}
    with statements(BUDGET):
        data = api.data(express_target, body, session="c2", vid="cond", ua="curl/8", debug="true")
    assert data["items"][0]["p"] == "f", data["log"]  # the goal reached server-side: rule 5
    with statements(1):  # a repeat: the one read
        api.data(express_target, body, session="c2", vid="cond", ua="curl/8")
