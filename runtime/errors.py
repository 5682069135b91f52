"""Errors of a whole agent-api request, and the one handler that renders every error.

The agent-api answers `{"status": <code>, "err": "<message>"}` with that HTTP status;
other APIs keep DRF's `{"detail": ...}`. A database that cannot be reached is a 503
with Retry-After for every API, never a 500. Every refusal of an agent-api request has
its reason (`runtime.reasons`), which the handler leaves on the view (`view.refusal`) for
the metrics and the install page.
"""

import logging
import math
from typing import Any

from django.db import DatabaseError, connections
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from runtime import reasons
from runtime.metrics import DATABASE_ERRORS
from runtime.reasons import Refusal

logger = logging.getLogger(__name__)

DB_RETRY_AFTER_SECONDS = 2
DB_UNAVAILABLE = "The database is unavailable; retry shortly."


class AgentApiError(exceptions.APIException):
    """A refusal of the whole request, with its HTTP status and a clear message.

    An APIException, so that DRF's authentication steps treat it as theirs (a refusal
    raised while authenticating leaves the request unauthenticated, not half-done).
    """

    def __init__(
        self, refusal: Refusal, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.status_code = refusal.status
        self.message = message
        self.headers = headers or {}


# DRF's own refusals of an agent-api request, by their exception
_DRF_REFUSALS: dict[type[exceptions.APIException], Refusal] = {
    exceptions.Throttled: reasons.THROTTLED,
    exceptions.MethodNotAllowed: reasons.METHOD_NOT_ALLOWED,
}


def refusal_of(exc: Exception) -> Refusal:
    """The reason of the error that refused a request (DRF's own refusals included)."""
    if isinstance(exc, AgentApiError):
        return exc.refusal
    if isinstance(exc, DatabaseError):
        return reasons.DATABASE_UNAVAILABLE
    for kind, refusal in _DRF_REFUSALS.items():
        if isinstance(exc, kind):
            return refusal
    status_code = getattr(exc, "status_code", 500)
    return reasons.BAD_REQUEST if status_code == 400 else Refusal(reasons.OTHER, status_code)


def envelope_error(
    status_code: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    response = Response({"status": status_code, "err": message}, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def retry_after(wait: float | None) -> dict[str, str]:
    """The Retry-After header of an answer that asks to wait `wait` seconds."""
    return {"Retry-After": str(max(1, math.ceil(wait or 1)))}


def refusal_answer(
    refusal: Refusal, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    """A refusal in the agent-api's envelope, for a view outside DRF (the pre-flight)."""
    response = JsonResponse({"status": refusal.status, "err": message}, status=refusal.status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _database_failed(exc: DatabaseError) -> None:
    logger.warning("database unavailable: %s", exc.__class__.__name__)
    DATABASE_ERRORS.inc()
    _drop_broken_connections()


def _drop_broken_connections() -> None:
    """Close connections the failure left unusable, so the next request reconnects."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        try:
            connection.close_if_unusable_or_obsolete()
        except DatabaseError:
            connection.close()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: envelope errors for the agent-api, 503 for database outages."""
    view = context.get("view")
    envelope = getattr(view, "conductrics_envelope", False)
    if envelope:
        view.refusal = refusal_of(exc)  # type: ignore[union-attr]  # an agent-api view
    if isinstance(exc, AgentApiError):
        return envelope_error(exc.status_code, exc.message, exc.headers)
    if isinstance(exc, DatabaseError):
        _database_failed(exc)
        headers = retry_after(DB_RETRY_AFTER_SECONDS)
        if envelope:
            return envelope_error(status.HTTP_503_SERVICE_UNAVAILABLE, DB_UNAVAILABLE, headers)
        response = Response({"detail": DB_UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = headers["Retry-After"]
        return response
    if envelope and isinstance(exc, exceptions.APIException):
        headers = {}
        if isinstance(exc, exceptions.Throttled):
            headers = retry_after(exc.wait)  # type: ignore[attr-defined]  # set by DRF
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return envelope_error(exc.status_code, str(detail), headers)
    handled: Response | None = drf_exception_handler(exc, context)
    return handled
