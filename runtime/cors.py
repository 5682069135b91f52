"""CORS for Express targets: browsers on allowed origins may call the agent-api.

An Express target with no allowed origins accepts any origin; one with a list accepts
those only (others get 403). REST targets are called server-side: no CORS headers.
"""

from collections.abc import Iterable

from visitors.config import TargetConf

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


def preflight_headers(*, origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": MAX_AGE_SECONDS,
        "Vary": "Origin",
    }
