"""Throttling of the agent-api, counted in Django's cache (Redis when REDIS_URL is set).

Express targets: `AGENT_API_EXPRESS_RATE` per client IP and key (default 600/min).
REST targets: `AGENT_API_REST_RATE` per key (default 60000/min). `off` disables one.
A cache that cannot be reached lets requests through: it degrades throttling, not the API.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class TargetThrottle(SimpleRateThrottle):
    """DRF throttle of an authenticated agent-api request (`request.auth` a RuntimeAuth)."""

    cache_format = "agent-api-throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:
        pass  # the rate depends on the request's target: chosen in allow_request

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        target = request.auth.target
        ident = hashlib.sha256(target.api_key.encode()).hexdigest()[:24]  # never the raw key
        if target.is_express:
            ident = f"{self.get_ident(request)}:{ident}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        express = request.auth.target.is_express
        self.scope = "express" if express else "rest"
        rate = settings.AGENT_API_EXPRESS_RATE if express else settings.AGENT_API_REST_RATE
        if rate.strip().lower() == "off":
            return True
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # any cache failure must not break the API
            logger.warning("throttle cache unavailable; request let through")
            return True
