"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that keeps what it
received, checks each signature with the secret it is given, and answers 500 to the
next `fail` requests (to see retries), or `status` to all."""

import json
import ssl
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
    status: int = 200  # the answer once `fail` is spent (302: a redirect to /elsewhere)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]


def receiver_start(tls: ssl.SSLContext | None = None) -> tuple[Receiver, ThreadingHTTPServer]:
    """A receiver on 127.0.0.1, over TLS with `tls` (a server context) when given."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = 500 if state.fail > 0 else state.status
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
            if answer in (301, 302, 307, 308):
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
