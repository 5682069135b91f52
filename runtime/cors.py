"""CORS for Express targets: browsers on allowed origins may call the agent-api.

An Express target with no allowed origins accepts any origin; one with a list accepts
those only (others get 403). REST targets are called server-side: no CORS headers.
A pre-flight (OPTIONS) carries no key: it is allowed when an enabled Express target of
the account (the one named in the URL, or the one whose key it does carry) accepts the
origin.
"""

from collections.abc import Iterable

from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from runtime.errors import AgentApiError
from visitors.config import AccountConf, TargetConf

ALLOWED_HEADERS = "content-type, x-conductrics-apikey"
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


def preflight_headers(
    *, account: AccountConf | None, target_code: str | None, key: str | None, origin: str
) -> dict[str, str]:
    """The pre-flight's answer headers, or raise AgentApiError (403) for a refused origin."""
    candidates = [
        t
        for t in (account.targets if account else ())
        if t.is_express
        and t.enabled
        and (target_code is None or t.code == target_code)
        and (key is None or t.api_key == key)
    ]
    if not origin or not any(
        origin_allowed(origin=origin, allowed=t.allowed_origins) for t in candidates
    ):
        raise AgentApiError(403, "This origin may not call this agent-api.")
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": MAX_AGE_SECONDS,
        "Vary": "Origin",
    }


def request_origin(request: HttpRequest) -> str | None:
    return request.META.get("HTTP_ORIGIN")


class OriginAllowed(BasePermission):
    """A browser's request to an Express target comes from one of its allowed origins."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        target = request.auth.target
        origin = request_origin(request._request)
        if (
            origin
            and target.is_express
            and not origin_allowed(origin=origin, allowed=target.allowed_origins)
        ):
            raise AgentApiError(403, f"Origin {origin} may not call deploy target {target.code}.")
        return True
