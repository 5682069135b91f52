"""Settings read from the environment: checked in a fresh interpreter per case."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "db = settings.DATABASES['default'];"
    "print(json.dumps({'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db['NAME']),"
    "'conn_max_age': db.get('CONN_MAX_AGE'), 'health': db.get('CONN_HEALTH_CHECKS')}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="conductrics_admin.settings")
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings__production_without_secret_key__refuses_to_start():
    result = _settings()
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_settings__defaults__are_debug_off_and_sqlite_file():
    result = _settings(SECRET_KEY="s3cret")
    data = json.loads(result.stdout)
    assert data["debug"] is False
    assert data["engine"] == "django.db.backends.sqlite3"
    assert data["name"].endswith("db.sqlite3")


def test_settings__debug_on__runs_without_secret_key():
    result = _settings(DEBUG="true")
    assert json.loads(result.stdout)["debug"] is True


def test_settings__database_url__selects_postgresql_with_persistent_connections():
    result = _settings(SECRET_KEY="s", DATABASE_URL="postgres://u@db.example:5432/prod")
    data = json.loads(result.stdout)
    assert data["engine"] == "conductrics_admin.postgresql"  # Django's, Citus-aware
    assert data["name"] == "prod"
    assert data["conn_max_age"] == 60
    assert data["health"] is True


def test_wsgi__loads_every_view_then_freezes_them_out_of_the_garbage_collector():
    """A full collection would otherwise walk every object of the loaded app (30 ms)."""
    probe = (
        "import gc, sys; import conductrics_admin.wsgi;"
        "print(gc.get_freeze_count(), 'runtime.views' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="conductrics_admin.settings")
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frozen, views_loaded = done.stdout.split()
    assert views_loaded == "True"
    assert int(frozen) > 20_000
