"""The request metrics (server/app.py RequestMetricsMiddleware) count every request under
its route, method and status, also with the labelled series looked up once, and an app
started again counts into its own new metrics."""

from __future__ import annotations

from typing import Any

import httpx

from server.app import create_app
from server.settings import Settings
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema

KEY = "e12d836b15bb49d7bbf99e64295d995b"
AUTH = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7"}
BODY = b'{}\n{"type":"session"}\n{"init":true,"started":"2025-06-02T09:58:12Z","status":"exited","attrs":{"release":"r@1"}}\n'


def _line(route: str, method: str, status: int, n: int) -> str:
    return f'relhealth_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {float(n)}'


async def test_requests_are_counted_per_route_method_and_status(make_app: Any, sqlite_url: str) -> None:
    app = await make_app(Settings(database_url=sqlite_url))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    for _ in range(3):
        assert (await app.client.post("/api/42/envelope/", content=BODY, headers=AUTH)).status_code == 200
    for _ in range(2):
        assert (await app.client.post("/api/abc/envelope/", content=BODY, headers=AUTH)).status_code == 400
    await app.client.get("/healthz")
    body = (await app.client.get("/metrics")).text
    assert _line("envelope", "POST", 200, 3) in body
    assert _line("envelope", "POST", 400, 2) in body
    assert _line("/healthz", "GET", 200, 1) in body
    assert 'relhealth_http_request_duration_seconds_count{route="envelope"} 5.0' in body


async def test_an_app_started_again_counts_into_its_new_metrics(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    await AccountStore(engine).create_project("acme", "app", 42)
    await engine.dispose()
    app = create_app(Settings(database_url=sqlite_url))
    for expected in (1, 1):  # each startup has its own metrics
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                await client.get("/healthz")
                body = (await client.get("/metrics")).text
        assert _line("/healthz", "GET", 200, expected) in body
