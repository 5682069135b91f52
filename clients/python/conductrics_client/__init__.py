"""Server-side client of the Conductrics v3 runtime API (this product's `goal-events` batch
endpoint and agent-api): goals queued and sent in the background, in batches, with event
ids and event times, retried until answered and never counted twice; server-side
selections with a fallback.

    from conductrics_client import Client

    client = Client("https://ab.example.com", "ac-shop", "key-of-a-rest-target")
    client.goal("g-purchase", vid=customer_cookie, value=49.90, event_id=order.number)
    ...
    client.close()  # also at the process's exit
"""

from conductrics_client._client import (
    VERSION,
    Client,
    ClientClosedError,
    Goal,
    QueueFullError,
    SendError,
    Verdict,
    backoff_seconds,
)

__all__ = [
    "Client",
    "ClientClosedError",
    "Goal",
    "QueueFullError",
    "SendError",
    "Verdict",
    "backoff_seconds",
]
__version__ = VERSION
