"""`GET /metrics`: Prometheus text format, served only when METRICS_TOKEN is set, to a
caller that sends it (`Authorization: Bearer <token>`); 404 otherwise, so a server without
a token shows nothing.

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same for every
worker) before the server starts: each worker then writes its metrics there, and this view
adds them up, whichever worker answers. `gunicorn.conf.py` removes a dead worker's live
gauges.
"""

import hmac
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("No metrics here.")
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse("Send the metrics token: Authorization: Bearer ...", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
