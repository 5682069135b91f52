"""Requests whose shape no view can serve, refused before any view or database sees them.

- A query string of more than `DATA_UPLOAD_MAX_NUMBER_FIELDS` (1,000) fields: 400 (Django
  would answer its own HTML page).
- A NUL character in the path or the query string: 400 (PostgreSQL cannot store or compare
  it, so it must never reach a query, where it would surface as "database unavailable").
- A management API body over 1 MiB: 413, before anything reads it.
- A body sent with `Transfer-Encoding` and no `Content-Length`: 411. A WSGI application
  cannot read such a body under every server, and would otherwise see it as empty.
- A body, outside the agent-api, whose `Content-Type` names a charset that is unknown or
  not a text encoding (`base64`, `rot13`, `zlib`, `undefined`...): 415. The agent-api
  reads its JSON body as bytes, whatever the charset.

The query string is decoded as UTF-8 whatever charset the `Content-Type` names (SPEC §10):
Django would decode it with that charset (mojibake for `charset=ISO-8859-1`), and does so
while it builds the request (a 500 for `charset=base64`, before any middleware): so the
WSGI application is wrapped (`charset_guard`, in wsgi.py) to take such a charset off first.

The answer is the agent-api's envelope on agent-api paths, DRF's `{"detail": ...}` shape
elsewhere.
"""

import codecs
import contextlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.http import parse_header_parameters

RUNTIME_PATH_PART = "/v3/"  # the runtime APIs: /{account}/v3/agent-api, /{account}/v3/goal-events
REFUSED_CHARSET = "conductrics.refused_charset"  # environ key set by charset_guard
MANAGEMENT_API_PATH = "/api/"
MANAGEMENT_BODY_MAX_BYTES = 1024 * 1024


def request_shape_problem(request: HttpRequest) -> tuple[int, str] | None:
    """(status, message) when `request` cannot be served whatever its view, else None."""
    try:
        fields = request.GET.lists()
    except TooManyFieldsSent:
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, f"The query string has more than {limit} fields."
    if "\x00" in request.path_info or any(
        "\x00" in name or any("\x00" in value for value in values) for name, values in fields
    ):
        return 400, "The path or the query string contains a NUL character."
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        return 411, "Send the body with a Content-Length (Transfer-Encoding is not read)."
    length = request.META.get("CONTENT_LENGTH") or ""
    if (
        request.path_info.startswith(MANAGEMENT_API_PATH)
        and length.isdigit()
        and int(length) > MANAGEMENT_BODY_MAX_BYTES
    ):
        return 413, f"The body is larger than {MANAGEMENT_BODY_MAX_BYTES} bytes (1 MiB)."
    charset = request.META.get(REFUSED_CHARSET)
    has_body = (request.META.get("CONTENT_LENGTH") or "0") not in ("0", "")
    if charset and has_body and RUNTIME_PATH_PART not in request.path_info:
        return 415, f"The charset {charset[:40]!r} is not a text encoding: send UTF-8."
    return None


def charset_guard(app: Any) -> Any:
    """The WSGI application, with a `Content-Type` charset that is not a text encoding
    taken off before Django builds the request (it would decode the query string with it:
    a 500), and left in the environ (`REFUSED_CHARSET`) for `request_shape_problem`."""

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        content_type = environ.get("CONTENT_TYPE", "")
        if "charset" in content_type.lower():
            main, params = parse_header_parameters(content_type)
            charset = params.get("charset")
            if charset and not _text_encoding(charset):
                environ["CONTENT_TYPE"] = main
                environ[REFUSED_CHARSET] = charset
        return app(environ, start_response)

    return guarded


_PRINTABLE_ASCII = bytes(range(32, 127))


def _text_encoding(name: str) -> bool:
    """A charset a body can be decoded with (`utf-8`, `iso-8859-1`...): a text encoding that
    reads printable ASCII as itself. Not a bytes transform (`base64`, `zlib`), a text
    transform (`rot13`), `punycode`, `undefined`, nor an unknown name."""
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            return False
        return _PRINTABLE_ASCII.decode(info.name) == _PRINTABLE_ASCII.decode("ascii")
    except (LookupError, UnicodeError, ValueError):  # `undefined` refuses everything
        return False


def _query_as_utf8(request: HttpRequest) -> None:
    """Decode the query string as UTF-8, whatever charset the Content-Type names."""
    if request.encoding and codecs.lookup(request.encoding).name != "utf-8":
        request.GET = QueryDict(request.META.get("QUERY_STRING", ""), encoding="utf-8")


class RequestShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with contextlib.suppress(TooManyFieldsSent):  # request.GET raises it again: below
            _query_as_utf8(request)
        problem = request_shape_problem(request)
        if problem is None:
            return self.get_response(request)
        status, message = problem
        if RUNTIME_PATH_PART in request.path_info:
            return JsonResponse({"status": status, "err": message}, status=status)
        return JsonResponse({"detail": message}, status=status)
