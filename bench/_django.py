"""What the in-process benchmarks share: Django set up on a throw-away test database."""

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "conductrics_admin.settings",
    "SECRET_KEY": "bench-only",
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "false",
    "AGENT_API_EXPRESS_RATE": "off",
    "AGENT_API_REST_RATE": "off",
}


def django_setup() -> None:
    """Set Django up with the benches' settings (no database touched)."""
    sys.path.insert(0, str(ROOT))
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()


@contextlib.contextmanager
def throwaway_database() -> Iterator[None]:
    """Set Django up and hold a fresh test_<name> database (as the test runner makes)."""
    django_setup()
    from django.conf import settings
    from django.test.utils import get_runner, setup_test_environment

    setup_test_environment()
    runner = get_runner(settings)(verbosity=0, interactive=False)  # replaces a leftover
    old_config = runner.setup_databases()
    try:
        yield
    finally:
        runner.teardown_databases(old_config)
