"""The soak, one minute in CI: mixed traffic beside a purge, then every answer counted
against the raw rows and the aggregates (bench/soak.py; ten minutes there)."""

import os
import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from bench.soak import old_rows_load, soak_setup, tally_check, traffic_run

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))


@pytest.fixture
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the soak runs parallel writers: PostgreSQL only (CI runs it there)")


@pytest.mark.usefixtures("_postgresql_only")
def test_soak__mixed_traffic_beside_a_purge__nothing_lost_or_double_counted(live_server, settings):
    settings.AGENT_API_EXPRESS_RATE = "off"
    settings.AGENT_API_REST_RATE = "off"
    keys = soak_setup()
    old_rows_load(rows=20_000)
    since = timezone.now()
    stop = threading.Event()
    purged = []

    def purge_loop() -> None:
        try:
            while not stop.is_set():
                out = StringIO()
                call_command("purge_events", "--batch-size", "500", "--pause", "0", stdout=out)
                purged.append(out.getvalue())
                stop.wait(1)
        finally:
            connections.close_all()

    purger = threading.Thread(target=purge_loop)
    purger.start()
    try:
        tally = traffic_run(base_url=live_server.url, keys=keys, seconds=SOAK_SECONDS, threads=6)
    finally:
        stop.set()
        purger.join()

    assert tally_check(tally=tally, since=since) == []
    assert tally.events > 50
    assert tally.replays > 5
    assert sum(tally.credits.values()) > 20
    assert tally.statuses[400] + tally.statuses[401] > 5  # bad requests were refused
    assert purged
    assert "deleted 20000 assignments" in purged[0]  # the old rows went
