"""The test database on a Citus cluster (CITUS_TEST_URL, the coordinator's URL, which must
also be DATABASE_URL: `make test-citus`). In place of pytest-django's own set-up: a new
database on the coordinator and its workers, with the citus extension in each and the
workers added, migrated, then distributed by `citus_distribute`, as an installation
would be. Dropped at the end."""

import os

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from accounts.distribution import cluster_database_create, cluster_database_drop


@pytest.fixture(scope="session")
def citus_database_setup(django_db_blocker):
    """`django_db_setup` on Citus (see the module)."""
    url = os.environ.get("CITUS_TEST_URL", "")
    if url != os.environ.get("DATABASE_URL"):
        pytest.exit("CITUS_TEST_URL must also be DATABASE_URL (make test-citus)", returncode=2)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # a database per xdist worker
    name = f"test_{settings.DATABASES['default']['NAME']}_citus{worker}"
    with django_db_blocker.unblock():
        try:
            cluster_database_create(url, name)
        except ValueError as exc:
            pytest.exit(f"CITUS_TEST_URL: {exc}", returncode=2)
        connections["default"].close()
        settings.DATABASES["default"]["NAME"] = name
        connections["default"].settings_dict["NAME"] = name
        call_command("migrate", verbosity=0)
        call_command("citus_distribute", verbosity=0)
    yield
    with django_db_blocker.unblock():
        connections.close_all()
        cluster_database_drop(url, name)
