"""Per-request Prometheus metrics: a counter by route, method and status and a latency
histogram by route, for every HTTP request (the middleware) and for the envelope
endpoint's own fast path (`server.app.RelhealthApp`), which bypasses the middleware."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import Metrics
from server.services import Services

#: Label sets of the request counter kept looked up (methods are client-chosen strings).
_MAX_LABEL_SETS = 1024


class RequestRecorder:
    """Counts one finished request. The labelled children are looked up once: `labels()`
    validates and locks on every call, which showed in the profile of every ingest request."""

    def __init__(self) -> None:
        self._metrics: Metrics | None = None
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def record(self, m: Metrics, route: str, method: str, status: int, started: float) -> None:
        if m is not self._metrics:  # a new startup of the app: new metrics
            self._metrics, self._counters, self._histograms = m, {}, {}
        key = (route, method, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = m.requests.labels(route, method, str(status))
            if len(self._counters) < _MAX_LABEL_SETS:
                self._counters[key] = counter
        counter.inc()
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = m.latency.labels(route)
        histogram.observe(time.perf_counter() - started)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, services: dict[str, Services], recorder: RequestRecorder) -> None:
        self.app = app
        self.services = services
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.services.get("services")
        if scope["type"] != "http" or services is None:
            await self.app(scope, receive, send)
            return
        route = route_label(scope["path"])
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.recorder.record(services.metrics, route, scope["method"], status, started)


def route_label(path: str) -> str:
    if path.endswith(("/envelope/", "/envelope")):
        return "envelope"
    if path.startswith("/graphql"):
        return "graphql"
    if "/sessions" in path:
        return "sessions"
    return path if path in ("/healthz", "/readyz", "/metrics") else "other"
