"""What a request writes is stored exactly as sent, whatever characters its ids hold.

On PostgreSQL the request's rows travel as array literals (one text parameter per column,
see goals/writes.py), so quotes, backslashes, braces, commas and the word NULL must come
back unchanged; on SQLite the same tests cover the ORM path.
"""

import pytest
from django.db import connection

from reports.models import GoalDay, VisitorDay
from visitors.models import Assignment, Credit, GoalEvent

pytestmark = pytest.mark.django_db

AWKWARD = [
    'q"uote',
    "back\\slash",
    "{braces},comma",
    "NULL",
    "sp ace é ✓",
    '\\"{NULL}"\\',
]


@pytest.mark.parametrize("text", AWKWARD)
def test_awkward_ids__stored_and_replayed_exactly(api, agent, express_target, rest_target, text):
    session, vid, event_id = f"s-{text}", f"v-{text}", f"e-{text}"
    api.data(express_target, [{"a": "a-hero"}], session=session, vid=vid)
    first = api.data(
        rest_target, [{"g": "g-purchase", "v": 2.5, "id": event_id}], session=session, vid=vid
    )
    assert first["items"][0]["s"] == "ok"
    replay = api.data(
        rest_target, [{"g": "g-purchase", "v": 2.5, "id": event_id}], session=session, vid=vid
    )
    assert replay["items"] == [{**first["items"][0], "replay": True}]  # the stored answer

    assignment = Assignment.objects.get()
    assert (assignment.session, assignment.vid) == (session, vid)
    assert assignment.identity.endswith(vid)
    event = GoalEvent.objects.get()
    assert (event.event_id, event.session, event.vid, event.value) == (event_id, session, vid, 2.5)
    credit = Credit.objects.get()
    assert (credit.assignment_id, credit.event_id, credit.value) == (assignment.pk, event.pk, 2.5)


def test_one_request__many_rows__each_row_and_aggregate_in_place(api, account, express_target):
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create

    goal = goal_create(account=account, code="g-buy", name="Buy", trigger=GoalTrigger.PAGE_EVENT)
    for i in range(5):
        agent_create(
            account=account, code=f"a-{i}", name=f"A{i}", status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[goal],
            targets=[express_target],
        )  # fmt: skip
    commands = [{"a": f"a-{i}"} for i in range(5)] + [
        {"g": "g-buy", "v": 3},
        {"g": "g-buy", "v": 4, "id": "second"},
    ]
    data = api.data(express_target, commands, session="many", vid="many-vid")
    assert [item["s"] for item in data["items"][5:]] == ["ok", "none"]
    assert {skip["reason"] for skip in data["items"][6]["skipped"]} == {"already_credited"}

    rows = {a.agent.code: a for a in Assignment.objects.select_related("agent", "variation")}
    assert sorted(rows) == [f"a-{i}" for i in range(5)]
    assert all(a.confirmed_at is not None and a.vid == "many-vid" for a in rows.values())
    chosen = {item["a"]: item["c"] for item in data["items"][:5]}
    assert {code: a.variation.code for code, a in rows.items()} == chosen
    # the first goal credits every agent; the second finds them credited (counting once)
    events = list(GoalEvent.objects.order_by("pk"))
    assert [(e.event_id, e.value) for e in events] == [(None, 3.0), ("second", 4.0)]
    credits = Credit.objects.order_by("agent__code")
    assert [(c.agent.code, c.event_id, c.assignment_id, c.first) for c in credits] == [
        (code, events[0].pk, rows[code].pk, True) for code in sorted(rows)
    ]
    assert sum(d.visitors for d in VisitorDay.objects.all()) == 5
    assert sorted(
        (d.agent.code, d.variation.code, d.conversions) for d in GoalDay.objects.all()
    ) == sorted((code, a.variation.code, 1) for code, a in rows.items())


def test_array_literals__of_each_kind():
    from visitors.statements import pg_bools, pg_floats, pg_ints, pg_texts

    assert pg_ints([1, 22, 333]) == "{1,22,333}"
    assert pg_ints([1, None]) == "{1,NULL}"
    assert pg_ints([]) == "{}"
    assert pg_floats([2.5, 1e16, float("inf"), float("-inf")]) == "{2.5,1e+16,inf,-inf}"
    assert pg_bools([True, False]) == "{t,f}"
    assert pg_texts(["NULL", None, 'a"b\\c', "{x},y"]) == '{"NULL",NULL,"a\\"b\\\\c","{x},y"}'


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL reads the literals")
def test_array_literals__read_back_by_postgresql():
    from visitors.statements import pg_floats, pg_ints, pg_texts

    texts = ["NULL", 'q"uote', "back\\slash", "{braces},comma", "sp ace é ✓", ""]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::bigint[], %s::float8[], %s::varchar[], %s::varchar[]",
            [pg_ints([1, None, 2**62]), pg_floats([2.5, float("inf")]), pg_texts(texts),
             pg_texts([None])],
        )  # fmt: skip
        assert cursor.fetchone() == ([1, None, 2**62], [2.5, float("inf")], texts, [None])
