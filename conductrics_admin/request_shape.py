"""Requests whose shape no view can serve, refused before any view or database sees them.

- A NUL character in the path or the query string: 400 (PostgreSQL cannot store or compare
  it, so it must never reach a query, where it would surface as "database unavailable").
- A body sent with `Transfer-Encoding` and no `Content-Length`: 411. A WSGI application
  cannot read such a body under every server, and would otherwise see it as empty.

The answer is the agent-api's envelope on agent-api paths, DRF's `{"detail": ...}` shape
elsewhere.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

AGENT_API_PATH_PART = "/v3/agent-api"


def request_shape_problem(request: HttpRequest) -> tuple[int, str] | None:
    """(status, message) when `request` cannot be served whatever its view, else None."""
    if "\x00" in request.path_info or any(
        "\x00" in name or any("\x00" in value for value in values)
        for name, values in request.GET.lists()
    ):
        return 400, "The path or the query string contains a NUL character."
    if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
        return 411, "Send the body with a Content-Length (Transfer-Encoding is not read)."
    return None


class RequestShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request_shape_problem(request)
        if problem is None:
            return self.get_response(request)
        status, message = problem
        if AGENT_API_PATH_PART in request.path_info:
            return JsonResponse({"status": status, "err": message}, status=status)
        return JsonResponse({"detail": message}, status=status)
