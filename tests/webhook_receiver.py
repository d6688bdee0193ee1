"""A webhook receiver on 127.0.0.1 for the tests, written as the README tells receivers
to be: it checks the signature and the timestamp, and deduplicates on
`Relhealth-Delivery`. It answers 500 to its first `failures` requests and 200 after."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jobs.webhook_signature import verify_signature


@dataclass
class Received:
    delivery: str
    event: str
    timestamp: str
    signature_ok: bool
    body: dict[str, Any]


@dataclass
class Receiver:
    secret: str = ""
    failures: int = 0
    #: The clock the timestamps are checked against (the server's, when pinned).
    now: Callable[[], float] | None = None
    #: Set: the first request is accepted, then held until `release` is set.
    hold_first: bool = False
    requests: list[Received] = field(default_factory=list)
    #: Delivery ids accepted (processed) once each.
    accepted: list[str] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        timestamp = request.headers["Relhealth-Timestamp"]
        now = None if self.now is None else self.now()
        ok = verify_signature(self.secret, timestamp, body, request.headers["Relhealth-Signature"], now=now)
        delivery = request.headers["Relhealth-Delivery"]
        with self.lock:
            self.requests.append(
                Received(delivery, request.headers["Relhealth-Event"], timestamp, ok, json.loads(body))
            )
            failing = len(self.requests) <= self.failures
            first = len(self.requests) == 1
            if ok and not failing and delivery not in self.accepted:
                self.accepted.append(delivery)
        if not ok:
            return self._answer(request, 401, b"bad signature")
        if self.hold_first and first:
            self.holding.set()
            self.release.wait(60)
        self._answer(request, 500 if failing else 200, b"no" if failing else b"ok")

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:
            pass  # the sender is gone (killed mid-delivery)
