"""CORS for Express targets: browsers on allowed origins may call the agent-api.

An Express target with no allowed origins accepts any origin; one with a list accepts
those only (others get 403). REST targets are called server-side: no CORS headers.
A pre-flight (OPTIONS) answers the same to every URL (it would otherwise tell which
accounts and targets exist); the origin is checked on the request it announces.
"""

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from runtime import reasons
from runtime.authentication import KEY_HEADER_NAME, runtime_auth_of
from runtime.errors import AgentApiError, refusal_answer, retry_after
from runtime.throttling import client_over
from visitors.config import TargetConf

ALLOWED_HEADERS = f"content-type, {KEY_HEADER_NAME}"
MAX_AGE_SECONDS = "600"


def origin_allowed(*, origin: str, allowed: Iterable[str]) -> bool:
    allowed = tuple(allowed)
    return not allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}


def cors_headers(*, target: TargetConf | None, origin: str | None) -> dict[str, str]:
    """Headers that let `origin` read the answer, or none."""
    if not origin or target is None or not target.is_express:
        return {}
    if not origin_allowed(origin=origin, allowed=target.allowed_origins):
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight(request: HttpRequest, account: str, target: str | None = None) -> HttpResponse:
    """The pre-flight (OPTIONS) of an agent-api URL: 204 letting the origin send its
    request, the same whatever account, target or key the URL names, so that it tells
    nothing about them (SPEC §10); the request itself is then refused (403) to an origin
    its target does not allow. Throttled per client IP like an Express request."""
    wait = client_over(request, scope="preflight")
    if wait is not None:
        return refusal_answer(
            reasons.THROTTLED, "Too many requests from this address.", retry_after(wait)
        )
    response = HttpResponse(status=204)
    origin = request_origin(request)
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = MAX_AGE_SECONDS
    response["Vary"] = "Origin"
    return response


def request_origin(request: HttpRequest) -> str | None:
    return request.META.get("HTTP_ORIGIN")


class OriginAllowed(BasePermission):
    """A browser's request to an Express target comes from one of its allowed origins."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        target = runtime_auth_of(request).target
        origin = request_origin(request._request)
        if (
            origin
            and target.is_express
            and not origin_allowed(origin=origin, allowed=target.allowed_origins)
        ):
            raise AgentApiError(
                reasons.ORIGIN_REFUSED, f"Origin {origin} may not call deploy target {target.code}."
            )
        return True
