"""The test database on a Citus cluster (CITUS_TEST_URL, the coordinator's URL, which must
also be DATABASE_URL: `make test-citus`). In place of pytest-django's own set-up: a new
database on the coordinator and its workers, with the citus extension in each and the
workers added, migrated, then distributed by `citus_distribute`, as an installation
would be. Dropped at the end."""

import os

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections


def _coordinator() -> dict:
    return settings.DATABASES["default"]


def _connect(dbname: str, host: str | None = None, port: int | None = None) -> psycopg.Connection:
    base = _coordinator()
    return psycopg.connect(
        dbname=dbname,
        host=host or base["HOST"],
        port=port or base["PORT"] or 5432,
        user=base["USER"],
        password=base["PASSWORD"],
        autocommit=True,
    )


def _create(name: str) -> None:
    base = _coordinator()
    with _connect(base["NAME"]) as admin:
        workers = admin.execute(
            "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive"
        ).fetchall()
        if not workers:
            pytest.exit(
                f"CITUS_TEST_URL: {base['NAME']} on the coordinator has no workers "
                "(SELECT citus_add_node(host, port) there first)",
                returncode=2,
            )
        admin.execute("SET citus.enable_create_database_propagation = on")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    for host, port in workers:
        with _connect(name, host, port) as worker:
            worker.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with _connect(name) as coordinator:
        coordinator.execute("CREATE EXTENSION IF NOT EXISTS citus")
        coordinator.execute(
            "SELECT citus_set_coordinator_host(%s, %s)",
            [base["HOST"] or "localhost", int(base["PORT"] or 5432)],
        )
        for host, port in workers:
            coordinator.execute("SELECT citus_add_node(%s, %s)", [host, port])


def _drop(name: str, maintenance: str) -> None:
    with _connect(maintenance) as admin:
        admin.execute("SET citus.enable_create_database_propagation = on")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def citus_database_setup(django_db_blocker):
    """`django_db_setup` on Citus (see the module)."""
    if os.environ.get("CITUS_TEST_URL") != os.environ.get("DATABASE_URL"):
        pytest.exit("CITUS_TEST_URL must also be DATABASE_URL (make test-citus)", returncode=2)
    maintenance = _coordinator()["NAME"]
    name = f"test_{maintenance}_citus"
    with django_db_blocker.unblock():
        _create(name)
        for alias in ("default",):
            connections[alias].close()
            settings.DATABASES[alias]["NAME"] = name
            connections[alias].settings_dict["NAME"] = name
        call_command("migrate", verbosity=0)
        call_command("citus_distribute", verbosity=0)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        _drop(name, maintenance)
