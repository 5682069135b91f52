"""Prometheus metrics of the agent-api (prometheus-client; multiprocess mode under gunicorn
when PROMETHEUS_MULTIPROC_DIR is set, see conductrics_admin/metrics.py).

Labels take a bounded set of values only: the target kind, the HTTP status, a reason of
the fixed vocabulary below. Never a key, a vid, a session or a code sent by a client.
"""

from prometheus_client import Counter, Histogram

# the reason of a whole request's answer, by its status
REASONS = {
    200: "ok",
    204: "preflight",
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "too_large",
    429: "throttled",
    503: "database_unavailable",
}
KINDS = ("express", "rest", "unauthenticated")

AGENT_API_REQUESTS = Counter(
    "conductrics_agent_api_requests",
    "Agent-api requests, by target kind, HTTP status and reason.",
    ["kind", "status", "reason"],
)
AGENT_API_SECONDS = Histogram(
    "conductrics_agent_api_request_seconds",
    "Time to answer an agent-api request, by target kind.",
    ["kind"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DATABASE_ERRORS = Counter(
    "conductrics_database_errors", "Requests answered 503 because the database failed."
)


def agent_api_observe(*, kind: str | None, status: int, seconds: float) -> None:
    """Count one answered agent-api request."""
    kind = kind if kind in KINDS else "unauthenticated"
    reason = REASONS.get(status, "other")
    status_label = str(status) if status in REASONS else "other"
    AGENT_API_REQUESTS.labels(kind, status_label, reason).inc()
    AGENT_API_SECONDS.labels(kind).observe(seconds)
