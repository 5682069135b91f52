"""Prometheus metrics of the agent-api (prometheus-client; multiprocess mode under gunicorn
when PROMETHEUS_MULTIPROC_DIR is set, see conductrics_admin/metrics.py).

Labels take a bounded set of values only: the target kind, the HTTP status, a reason of
the fixed vocabulary of `runtime.reasons`. Never a key, a vid, a session or a code sent by a client.
"""

from prometheus_client import Counter, Histogram

from runtime import reasons

# the `reason` label: why a request was refused (runtime.reasons), or that it was not
REASONS = (reasons.ANSWERED, reasons.PREFLIGHT, *(r.code for r in reasons.REFUSALS))
# the `status` label: the statuses these answers take (others count as "other")
STATUSES = (200, 204, 304, *sorted({r.status for r in reasons.REFUSALS}))

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


def agent_api_observe(*, kind: str | None, status: int, reason: str, seconds: float) -> None:
    """Count one answered agent-api request."""
    kind = kind if kind in KINDS else "unauthenticated"
    reason = reason if reason in REASONS else reasons.OTHER
    status_label = str(status) if status in STATUSES else reasons.OTHER
    AGENT_API_REQUESTS.labels(kind, status_label, reason).inc()
    AGENT_API_SECONDS.labels(kind).observe(seconds)
