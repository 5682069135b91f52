"""Liveness and readiness for load balancers and orchestrators (SPEC §10).

- `GET /healthz`: 200 while the process serves; touches nothing (no database, no cache).
- `GET /readyz`: 200 when the database (and Redis, when `REDIS_URL` is set) answers, else
  503 naming what failed, with `Retry-After`: take the server out of rotation until then.
"""

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

READY_RETRY_AFTER_SECONDS = 5


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        connection.close()  # the next request reconnects
        return False


def _redis_ok() -> bool:
    try:
        cache.get("readyz-probe")
    except Exception:  # any failure of the cache's server means not ready
        return False
    return True


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_ok()
    failed = [name for name, ok in checks.items() if not ok]
    body: dict[str, object] = {
        "status": "unavailable" if failed else "ready",
        "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
    }
    if failed:
        body["failed"] = failed
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(READY_RETRY_AFTER_SECONDS)
        return response
    return JsonResponse(body)
