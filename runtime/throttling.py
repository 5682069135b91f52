"""Throttling of the agent-api, counted in Django's cache (Redis when REDIS_URL is set).

Express targets: `AGENT_API_EXPRESS_RATE` per client IP and key (default 600/min).
REST targets: `AGENT_API_REST_RATE` per key (default 60000/min). `off` disables one.
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
        parsed = rate_parse(rate)
        if parsed is None:
            return True
        limit, period = parsed
        ident = hashlib.sha256(target.api_key.encode()).hexdigest()[:24]  # never the raw key
        if target.is_express:
            ident = f"{self.get_ident(request)}:{ident}"
        now = time.time()
        window = int(now // period)
        key = CACHE_FORMAT.format(scope=scope, ident=ident, window=window)
        try:
            count = cache_count(key=key, ttl=period + 1)
        except Exception:  # any cache failure must not break the API
            logger.warning("throttle cache unavailable; request let through")
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return self._wait


def cache_count(*, key: str, ttl: int) -> int:
    """Add one to the counter `key` in Django's cache (made with a lifetime of `ttl`
    seconds); the count so far. Atomic in Redis and in the in-process cache, so parallel
    callers never miss one another. Raises whatever the cache raises when it is down."""
    cache.add(key, 0, ttl)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 0, ttl)
        return cache.incr(key)
