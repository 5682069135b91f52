"""Throttling of the agent-api, counted in Django's cache (Redis when REDIS_URL is set).

Express targets: `AGENT_API_EXPRESS_RATE` per client IP and key (default 600/min).
REST targets: `AGENT_API_REST_RATE` per key (default 60000/min). `off` disables one.
A cache that cannot be reached lets requests through: it degrades throttling, not the API.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class TargetThrottle(SimpleRateThrottle):
    cache_format = "agent-api-throttle:%(scope)s:%(ident)s"

    def __init__(self, *, express: bool, key: str) -> None:
        self.express = express
        self.key_digest = hashlib.sha256(key.encode()).hexdigest()[:24]  # never the raw key
        self.scope = "express" if express else "rest"
        rate = settings.AGENT_API_EXPRESS_RATE if express else settings.AGENT_API_REST_RATE
        self.rate = None if rate.strip().lower() == "off" else rate
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request, view) -> str | None:  # noqa: ANN001
        if self.rate is None:
            return None
        ident = self.key_digest
        if self.express:
            ident = f"{self.get_ident(request)}:{ident}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:  # noqa: ANN001
        if self.rate is None:
            return True
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache failure must not break the API
            logger.warning("throttle cache unavailable; request let through")
            return True
