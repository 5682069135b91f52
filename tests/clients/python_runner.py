"""The Python client's runner of a conformance scenario (clients/conformance/scenarios.json):
it runs the steps with `conductrics_client.Client` and reports what it saw, in the shape
the Node.js runner reports too (clients/node/scripts/conformance.mjs)."""

import threading
import time
from typing import Any

from conductrics_client import Client, SendError, Verdict


def run(scenario: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    options = dict(scenario["client"])
    key = config["keys"][options.pop("key", "rest")]
    url = config["closed_url"] if options.pop("url", "proxy") == "closed" else config["proxy_url"]
    seen: dict[str, list[Any]] = {"verdicts": [], "errors": [], "raised": [], "selections": []}
    lock = threading.Lock()

    def on_verdict(verdict: Verdict) -> None:
        with lock:
            seen["verdicts"].append({
                "event_id": verdict.goal.event_id, "at": verdict.goal.at, "s": verdict.status,
                "replay": verdict.replay, "t": verdict.item.get("t"), "err": verdict.err,
            })  # fmt: skip

    def on_error(error: SendError) -> None:
        with lock:
            seen["errors"].append({
                "event_id": error.goal.event_id, "reason": error.reason, "status": error.status,
            })  # fmt: skip

    client = Client(
        url, config["account"], key, on_verdict=on_verdict, on_error=on_error, **options
    )
    for step in scenario["steps"]:
        ((kind, arg),) = step.items()
        if kind == "goal":
            arg = dict(arg)
            if "at_seconds_ago" in arg:
                arg["at"] = time.time() - arg.pop("at_seconds_ago")
            try:
                client.goal(**arg)
            except Exception as exc:  # what was raised is the observation
                seen["raised"].append(type(exc).__name__)
        elif kind == "flush":
            client.flush(arg)
        elif kind == "close":
            client.close(arg)
        elif kind == "select":
            seen["selections"].append(client.select(**arg))
        elif kind == "sleep":
            time.sleep(arg)
        else:
            raise ValueError(f"unknown step {kind!r}")
    client.close(5)
    return seen
