"""Cross-cutting protections: secrets kept out of logs, and admin login throttling."""

import logging
import re

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

_SECRET_PARAMS = re.compile(r"(?i)\b(apikey|vid|api_key|x-conductrics-apikey)=([^&\s\"']+)")
_KEYS = re.compile(r"\b(api|admin)-[A-Za-z0-9_-]{32}\b")


def redact(text: str) -> str:
    """`text` with API keys and external visitor ids replaced by `***`."""
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=***", text)
    return _KEYS.sub(lambda m: f"{m.group(1)}-***", text)


class RedactSecretsFilter(logging.Filter):
    """Removes runtime/admin keys and vids from log records (request lines included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left as it is
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class AdminLoginThrottleMiddleware:
    """Slows down guessing of admin passwords.

    After `ADMIN_LOGIN_MAX_FAILURES` failed logins from one client IP for one user name
    within `ADMIN_LOGIN_LOCKOUT_SECONDS`, further attempts are refused (429) until the
    window passes. A successful login clears the count.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path_info != "/admin/login/":
            return self.get_response(request)
        ip = request.META.get("REMOTE_ADDR", "")
        username = (request.POST.get("username") or "").strip().lower()[:150]
        key = f"admin-login-failures:{ip}:{username}"
        limit = settings.ADMIN_LOGIN_MAX_FAILURES
        window = settings.ADMIN_LOGIN_LOCKOUT_SECONDS
        try:
            failures = cache.get(key, 0)
        except Exception:  # a cache outage must not lock admins out
            failures = 0
        if failures >= limit:
            response = TemplateResponse(
                request,
                "admin/login_throttled.html",
                {"minutes": max(1, window // 60), "title": "Too many failed logins"},
                status=429,
            )
            response["Retry-After"] = str(window)
            return response.render()
        response = self.get_response(request)
        try:
            if response.status_code == 302:
                cache.delete(key)
            else:
                cache.set(key, failures + 1, window)
        except Exception:  # counting is best effort
            logging.getLogger(__name__).warning("admin login throttle: cache unavailable")
        return response
