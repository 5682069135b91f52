"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that keeps what it
received, checks each signature with the secret it is given, and answers 500 to the
next `fail` requests (to see retries)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature_valid


@dataclass
class Received:
    event: str
    delivery: int
    body: dict
    signed: bool  # the signature checked with the receiver's secret
    answered: int


@dataclass
class Receiver:
    secret: str = ""
    fail: int = 0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]


def receiver_start() -> tuple[Receiver, ThreadingHTTPServer]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = 500 if state.fail > 0 else 200
            state.fail = max(0, state.fail - 1)
            state.received.append(
                Received(
                    event=self.headers.get(EVENT_HEADER, ""),
                    delivery=int(self.headers.get(DELIVERY_HEADER, "0")),
                    body=json.loads(raw),
                    signed=signature_valid(state.secret, raw, self.headers.get(SIGNATURE_HEADER)),
                    answered=answer,
                )
            )
            self.send_response(answer)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
