"""A proxy for the clients' tests that fails on purpose: in front of the live server, it
applies one fault per request whose path holds `mark` (the batch endpoint), in the order
given, then passes every request. Each answer closes its connection.

Faults: `pass`; `drop` (the connection is closed before the server sees the request);
`drop_answer` (the server answers, the answer is thrown away and the connection closed:
the batch was recorded and the client cannot know); `503` and `429` (answered by the proxy
with `Retry-After: 1`); `delay:S` (S seconds before the request is forwarded).
"""

import contextlib
import http.client
import json
import socketserver
import threading
import time
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class FaultProxy:
    def __init__(self, upstream: str, faults: list[str], mark: str = "/goal-events") -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.faults = list(faults)
        self.mark = mark
        self.used: list[str] = []  # the faults applied, in order
        self.requests = 0  # requests whose path holds `mark`
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FaultProxy":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next_fault(self, target: str) -> str:
        with self._lock:
            if self.mark not in target:
                return "pass"
            self.requests += 1
            if not self.faults:
                return "pass"
            fault = self.faults.pop(0)
            self.used.append(fault)
            return fault

    def _handle(self, handler: socketserver.StreamRequestHandler) -> None:
        handler.connection.settimeout(30)
        line = handler.rfile.readline()
        if not line:
            return
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: list[tuple[str, str]] = []
        while (raw := handler.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        length = next((int(v) for n, v in headers if n.lower() == "content-length"), 0)
        body = handler.rfile.read(length)
        fault = self._next_fault(target)
        if fault == "drop":
            return
        if fault in ("503", "429"):
            text = json.dumps({"status": int(fault), "err": f"fault proxy: {fault}"}).encode()
            handler.wfile.write(
                f"HTTP/1.1 {fault} Fault\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode()
                + text
            )
            return
        if fault.startswith("delay:"):
            time.sleep(float(fault.split(":", 1)[1]))
        upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
        upstream.request(
            method, target, body=body,
            headers={n: v for n, v in headers if n.lower() not in HOP_BY_HOP},
        )  # fmt: skip
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        if fault == "drop_answer":
            return
        head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        with contextlib.suppress(OSError):  # the client gave up (a delay past its time-out)
            handler.wfile.write(head.encode("latin-1") + data)
