"""Throttling of the agent-api, counted in Django's cache (Redis when REDIS_URL is set).

Express targets: `AGENT_API_EXPRESS_RATE` per client IP and key (default 600/min).
REST targets: `AGENT_API_REST_RATE` per key (default 60000/min; a batch of goal events
counts one per event). `off` disables one.
What no key vouches for (a CORS pre-flight; a key that is missing, unknown, or of
another account) is counted per client IP at the Express rate.
Rates are in DRF's syntax and counted in fixed windows of their period (a minute for
`/min`) by an atomic increment, so parallel requests, on any number of processes sharing
Redis, never get past the limit. A cache that cannot be reached lets requests through:
it degrades throttling, not the API.
"""

import hashlib
import logging
import time
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

if TYPE_CHECKING:  # not at run time: conductrics_admin.security imports this module early
    from runtime.authentication import RuntimeAuth

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
CACHE_FORMAT = "agent-api-throttle:{scope}:{ident}:{window}"


def rate_parse(rate: str) -> tuple[int, int] | None:
    """`600/min` → (600, 60); None for `off`."""
    if rate.strip().lower() == "off":
        return None
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[0]]


def count_over(*, scope: str, ident: str, rate: str, weight: int = 1) -> float | None:
    """Count `weight` requests of `ident` in `scope` at `rate`: the seconds to wait when
    that is over the rate, else None (also when the rate is off or the cache is down)."""
    parsed = rate_parse(rate)
    if parsed is None:
        return None
    limit, period = parsed
    now = time.time()
    window = int(now // period)
    key = CACHE_FORMAT.format(scope=scope, ident=ident, window=window)
    try:
        count = cache_count(key=key, ttl=period + 1, by=weight)
    except Exception:  # any cache failure must not break the API
        logger.warning("throttle cache unavailable; request let through")
        return None
    return None if count <= limit else (window + 1) * period - now


def client_over(request: HttpRequest | Request, *, scope: str) -> float | None:
    """Count one request that no key vouches for (a pre-flight, a made-up account code
    or key) from the client's IP, at the Express rate (`AGENT_API_EXPRESS_RATE`): the
    seconds to wait when over it, else None."""
    ident = BaseThrottle().get_ident(request)  # type: ignore[arg-type]
    return count_over(scope=scope, ident=ident, rate=settings.AGENT_API_EXPRESS_RATE)


class TargetThrottle(BaseThrottle):
    """DRF throttle of an authenticated agent-api request (`request.auth` a RuntimeAuth)."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        target = cast("RuntimeAuth", request.auth).target
        scope = "express" if target.is_express else "rest"
        rate = (
            settings.AGENT_API_EXPRESS_RATE if target.is_express else settings.AGENT_API_REST_RATE
        )
        ident = hashlib.sha256(target.api_key.encode()).hexdigest()[:24]  # never the raw key
        if target.is_express:
            ident = f"{self.get_ident(request)}:{ident}"
        weight = getattr(view, "throttle_weight", None)  # a batch: one per event
        self._wait = count_over(
            scope=scope, ident=ident, rate=rate, weight=weight(request) if weight else 1
        )
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def cache_count(*, key: str, ttl: int, by: int = 1) -> int:
    """Add one to the counter `key` in Django's cache (made with a lifetime of `ttl`
    seconds); the count so far. Atomic in Redis and in the in-process cache, so parallel
    callers never miss one another. Raises whatever the cache raises when it is down."""
    cache.add(key, 0, ttl)
    try:
        return cache.incr(key, by)
    except ValueError:  # expired between the two calls
        cache.add(key, 0, ttl)
        return cache.incr(key, by)
