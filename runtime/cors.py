"""CORS for Express targets: browsers on allowed origins may call the agent-api.

An Express target with no allowed origins accepts any origin; one with a list accepts
those only (others get 403). REST targets are called server-side: no CORS headers.
A pre-flight (OPTIONS) carries no key: it is allowed when an enabled Express target of
the account (the one named in the URL, or the one whose key it does carry) accepts the
origin.
"""

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from runtime import reasons
from runtime.authentication import runtime_auth_of, runtime_key_from, target_of_key
from runtime.errors import AgentApiError, refusal_answer
from visitors.config import TargetConf, account_conf

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


def preflight(request: HttpRequest, account: str, target: str | None = None) -> HttpResponse:
    """The pre-flight (OPTIONS) of an agent-api URL: 204 with the headers that let the
    origin send its request, or 403 in the agent-api's envelope."""
    origin = request_origin(request) or ""
    key = runtime_key_from(request)
    conf = account_conf(code=account)
    if key is not None:  # the target it opens, found as the authentication finds it
        opened = target_of_key(account=conf, key=key)
        candidates: tuple[TargetConf, ...] = (opened,) if opened else ()
    else:
        candidates = conf.targets if conf else ()
    if not origin or not any(
        t.is_express
        and t.enabled
        and (target is None or t.code == target)
        and origin_allowed(origin=origin, allowed=t.allowed_origins)
        for t in candidates
    ):
        return refusal_answer(reasons.ORIGIN_REFUSED, "This origin may not call this agent-api.")
    response = HttpResponse(status=204)
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
