"""Benchmark: what the write path costs one PostgreSQL, and what time-partitioning the raw
tables would change (docs/scaling.md).

Part 1, on a throw-away database through the whole agent-api stack (Django's test
client): for each kind of request, the SQL statements it sends, the rows it writes, and
the WAL it makes, averaged over --requests requests; then the bytes per stored row of each
raw table, indexes included.

Part 2, in plain SQL: copies of the assignments table, one plain and one partitioned by
month on `created_at`, each with --rows rows over six months and the same indexes. It
times the retention purge of the oldest month (batched DELETEs on the plain table, against
detaching and dropping a partition), with the WAL each makes, and the visitor read (the
hot path's lookup by session or vid) on both.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/storage.py [--requests 2000] [--rows 1200000]
"""

import argparse
import random
import statistics
import time

from _django import throwaway_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1_200_000)
    args = parser.parse_args()
    with throwaway_database():
        from django.db import connection

        if connection.vendor != "postgresql":
            raise SystemExit("Set DATABASE_URL to a PostgreSQL server")
        _write_path(args)
        _partitioning(args)


def _wal(cursor) -> int:
    cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
    return int(cursor.fetchone()[0])


def _rows_written(cursor) -> int:
    cursor.execute("SELECT pg_stat_force_next_flush()")
    cursor.execute(
        "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd), 0) FROM pg_stat_user_tables "
        "WHERE relname LIKE ANY (ARRAY['agents_assignment', 'goals_%', 'reports_%'])"
    )
    return int(cursor.fetchone()[0])


def _write_path(args) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.services import account_create
    from agents.models import AgentStatus
    from agents.services import VariationSpec, agent_create
    from goals.models import GoalTrigger
    from goals.services import goal_create
    from targets.services import target_create

    account = account_create(code="ac-bench", name="Bench")
    web = target_create(account=account, code="dt-web", name="Web", allow_external_vid=True)
    rest = target_create(account=account, code="dt-srv", name="Srv", kind="rest",
                         allow_external_vid=True)  # fmt: skip
    goal = goal_create(account=account, code="g-purchase", name="Buy", trigger=GoalTrigger.API,
                       rest_send=True)  # fmt: skip
    for code in ["a-hero"] + [f"a-t{i}" for i in range(9)]:
        agent_create(
            account=account, code=code, name=code, status=AgentStatus.RUNNING,
            variations=[VariationSpec(code="A"), VariationSpec(code="B")], goals=[goal],
            targets=[web, rest],
        )  # fmt: skip
    client = Client()

    def call(key: str, body: str, visitor: str) -> None:
        response = client.post(
            f"/ac-bench/v3/agent-api?apikey={key}&session={visitor}&vid={visitor}",
            data=body, content_type="text/plain",
        )  # fmt: skip
        assert response.status_code == 200, response.content

    scenarios = {
        "first selection (1 agent)": (web.api_key, '[{"a": "a-hero"}]'),
        "REST goal by vid, credited to 1 agent": (rest.api_key, '[{"g": "g-purchase", "v": 9.5}]'),
        "page of 10 selections": (web.api_key, str([{"a": f"a-t{i}"} for i in range(9)]
                                                   + [{"a": "a-hero"}]).replace("'", '"')),
    }  # fmt: skip
    print(f"Part 1: the write path, {args.requests:,} requests of each kind")
    print(f"{'request':40s} {'statements':>10s} {'rows':>6s} {'WAL bytes':>10s}")
    with connection.cursor() as cursor:
        for name, (key, body) in scenarios.items():
            if name.startswith("REST"):  # each goal's visitor saw a-hero on the page first
                for i in range(args.requests):
                    call(web.api_key, '[{"a": "a-hero"}]', f"g{i}")
            prefix = "g" if name.startswith("REST") else name[:5]
            wal, rows = _wal(cursor), _rows_written(cursor)
            with CaptureQueriesContext(connection) as captured:
                for i in range(args.requests):
                    call(key, body, f"{prefix}{i}")
            statements = sum(
                1 for q in captured.captured_queries
                if not (q["sql"] or "").lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT",
                                                             "RELEASE"))
            ) / args.requests  # fmt: skip
            wal_per = (_wal(cursor) - wal) / args.requests
            rows_per = (_rows_written(cursor) - rows) / args.requests
            print(f"{name:40s} {statements:10.2f} {rows_per:6.1f} {wal_per:10.0f}")
        cursor.execute("ANALYZE")
        print("\nbytes per stored row (table + its indexes, after the run):")
        for table in ("agents_assignment", "goals_goalevent", "goals_credit",
                      "reports_visitorday", "reports_goalday"):  # fmt: skip
            cursor.execute(
                "SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass), "
                f"(SELECT COUNT(*) FROM {table})",
                [table, table],
            )
            data, indexes, count = cursor.fetchone()
            if count:
                print(f"  {table:22s} {count:8,d} rows: {data / count:6.0f} B + indexes "
                      f"{indexes / count:6.0f} B")  # fmt: skip


COLUMNS = (
    "id bigint NOT NULL, account_id bigint NOT NULL, agent_id bigint NOT NULL, "
    "variation_id bigint NOT NULL, identity varchar(130) NOT NULL, session varchar(128) NOT NULL, "
    "vid varchar(128), target_id bigint, target_kind varchar(8) NOT NULL, traits jsonb NOT NULL, "
    "created_at timestamptz NOT NULL, confirmed_at timestamptz, policy varchar(1) NOT NULL"
)


def _partitioning(args) -> None:
    from django.db import connection

    months = 6
    print(f"\nPart 2: {args.rows:,} assignments over {months} months, plain and partitioned")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE flat ({COLUMNS})")
        cursor.execute(f"CREATE TABLE part ({COLUMNS}) PARTITION BY RANGE (created_at)")
        for m in range(months):
            cursor.execute(
                f"CREATE TABLE part_{m} PARTITION OF part FOR VALUES FROM "
                f"('2026-01-01'::date + interval '{m} month') TO "
                f"('2026-01-01'::date + interval '{m + 1} month')"
            )
        per_month = args.rows // months
        for table in ("flat", "part"):
            cursor.execute(
                f"INSERT INTO {table} SELECT g, 1, 1 + g % 10, 1 + g % 20, 'v:v' || g, "
                "'s' || g, 'v' || g, 1, 'express', '[]', "
                f"'2026-01-01'::timestamptz + (g / {per_month}) * interval '1 month' "
                f"+ (g % {per_month}) * interval '1 second', now(), 'r' "
                f"FROM generate_series(0, {per_month * months - 1}) AS g"
            )
            # the same indexes as agents_assignment; uniqueness of (agent, identity) must
            # include the partition key on a partitioned table: (agent, identity, created_at)
            unique = "agent_id, identity" + (", created_at" if table == "part" else "")
            cursor.execute(f"CREATE UNIQUE INDEX {table}_unique ON {table} ({unique})")
            cursor.execute(f"CREATE INDEX {table}_session ON {table} (session, agent_id)")
            cursor.execute(
                f"CREATE INDEX {table}_vid ON {table} (vid, agent_id) WHERE vid IS NOT NULL"
            )
            cursor.execute(f"CREATE INDEX {table}_time ON {table} (account_id, created_at)")
            cursor.execute(f"ANALYZE {table}")

        rng = random.Random(3)
        probes = [rng.randrange(per_month * months) for _ in range(3000)]
        read = (
            "SELECT id, agent_id, variation_id, identity, created_at, confirmed_at FROM {t} "
            "WHERE agent_id = ANY(%s::bigint[]) AND (session = %s OR vid = %s)"
        )
        print("\nthe visitor read (session or vid, 10 agents), 3,000 random visitors:")
        for table in ("flat", "part", "flat", "part"):
            times = []
            for g in probes:
                began = time.perf_counter()
                cursor.execute(read.format(t=table), ["{1,2,3,4,5,6,7,8,9,10}", f"s{g}", f"v{g}"])
                cursor.fetchall()
                times.append(time.perf_counter() - began)
            print(f"  {table:5s} median {statistics.median(times) * 1e6:6.0f} us, "
                  f"p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:6.0f} us")  # fmt: skip
        cursor.execute(f"EXPLAIN {read.format(t='part')}", ["{1,2}", "s1", "v1"])
        scans = sum("Scan" in row[0] for row in cursor.fetchall())
        print(f"  the partitioned read plans {scans} index scans ({months} partitions × session "
              "and vid): no partition can be pruned, the visitor's time is unknown")  # fmt: skip

        print(f"\npurging the oldest month ({per_month:,} rows):")
        wal = _wal(cursor)
        began = time.perf_counter()
        cutoff = "'2026-02-01'::timestamptz"
        while True:
            cursor.execute(
                f"DELETE FROM flat WHERE id IN (SELECT id FROM flat WHERE account_id = 1 AND "
                f"created_at < {cutoff} LIMIT 5000)"
            )
            if cursor.rowcount == 0:
                break
        flat_s, flat_wal = time.perf_counter() - began, _wal(cursor) - wal
        wal = _wal(cursor)
        began = time.perf_counter()
        cursor.execute("ALTER TABLE part DETACH PARTITION part_0")
        cursor.execute("DROP TABLE part_0")
        part_s, part_wal = time.perf_counter() - began, _wal(cursor) - wal
        for label, seconds, bytes_ in (
            ("plain table, DELETE in batches of 5,000:", flat_s, flat_wal),
            ("partitioned, DETACH + DROP the month:   ", part_s, part_wal),
        ):
            print(f"  {label} {seconds:7.2f} s, WAL {bytes_ / 1e6:8.1f} MB")
        cursor.execute("DROP TABLE flat")
        cursor.execute("DROP TABLE part")


if __name__ == "__main__":
    main()
