"""Cross-cutting protections: secrets kept out of logs, and admin login throttling."""

import logging
import re
import unicodedata

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from runtime.throttling import cache_count

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


def login_name_normalize(name: str) -> str:
    """A user name as the lock-out counts it: Unicode variants (fullwidth letters, other
    cases) of one name are one name."""
    return unicodedata.normalize("NFKC", name).casefold().strip()[:150]


class AdminLoginThrottleMiddleware:
    """Slows down guessing of admin passwords.

    At most `ADMIN_LOGIN_MAX_FAILURES` login attempts from one client IP for one user name
    (normalised) within `ADMIN_LOGIN_LOCKOUT_SECONDS` that did not succeed; further ones
    are refused (429) until the window passes. A successful login clears the count.

    Each attempt is counted before it is tried, by an atomic increment, so that parallel
    attempts cannot slip past the limit. When the cache cannot be reached, attempts are
    refused (503): failing open would switch the lock-out off.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path_info != "/admin/login/":
            return self.get_response(request)
        ip = request.META.get("REMOTE_ADDR", "")
        username = login_name_normalize(request.POST.get("username") or "")
        key = f"admin-login-attempts:{ip}:{username}"
        window = settings.ADMIN_LOGIN_LOCKOUT_SECONDS
        try:
            attempts = cache_count(key=key, ttl=window)
        except Exception:  # the lock-out cannot be kept: no login without it
            logging.getLogger(__name__).warning("admin login refused: cache unavailable")
            return _login_refused(request, 503, "Login is unavailable", window=30)
        if attempts > settings.ADMIN_LOGIN_MAX_FAILURES:
            return _login_refused(request, 429, "Too many failed logins", window=window)
        response = self.get_response(request)
        if response.status_code == 302:
            try:
                cache.delete(key)
            except Exception:  # the count then runs out with its window
                logging.getLogger(__name__).warning("admin login throttle: cache unavailable")
        return response


def _login_refused(request: HttpRequest, status: int, title: str, *, window: int) -> HttpResponse:
    response = TemplateResponse(
        request,
        "admin/login_throttled.html",
        {"minutes": max(1, window // 60), "title": title, "status": status},
        status=status,
    )
    response["Retry-After"] = str(window)
    return response.render()
