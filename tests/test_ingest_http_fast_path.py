"""The envelope endpoint's fast path (server/app.py `RelhealthApp`): `POST
/api/{id}/envelope/` skips Starlette's middleware and router but answers exactly as the
routed way does (runs of slashes still go through the router to the same endpoint), counts
the request in the metrics, gives back the body budget of a client that went away, and
answers an unexpected error 500 as Starlette's error middleware does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.app import RelhealthApp, create_app
from server.request_metrics import RequestMetricsMiddleware
from server.settings import Settings
from tests.test_ingest_http import KEY, _envelope

_SESSION = (
    '{"type":"session"}\n'
    '{"init":true,"started":"2025-06-02T09:58:12Z","status":"exited","did":"u1","attrs":{"release":"r@1"}}'
)
_AUTH = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7"}


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[RelhealthApp]:
    app = create_app(Settings(database_url=sqlite_url))
    async with app.router.lifespan_context(app):
        services = app.state.services
        await services.accounts.create_project("acme", "app", 42)
        await services.accounts.add_key(42, KEY)
        yield app


def _client(app: RelhealthApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000")


def _metric(body: str, status: int) -> float:
    prefix = f'relhealth_http_requests_total{{method="POST",route="envelope",status="{status}"}} '
    lines = [line for line in body.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


@pytest.mark.parametrize(
    ("headers", "status"),
    [(_AUTH, 200), ({"X-Sentry-Auth": "Sentry sentry_key=" + "f" * 32}, 403), ({}, 401)],
    ids=["accepted", "unknown-key", "no-credentials"],
)
async def test_fast_and_routed_answers_are_the_same(
    app: RelhealthApp, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], status: int
) -> None:
    routed: list[str] = []
    real = RequestMetricsMiddleware.__call__

    async def counting(self: Any, scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await real(self, scope, receive, send)

    monkeypatch.setattr(RequestMetricsMiddleware, "__call__", counting)
    answers = []
    async with _client(app) as client:
        for path in ("/api/42/envelope/", "/api//42//envelope/"):
            r = await client.post(path, content=_envelope(_SESSION), headers=headers)
            answers.append((r.status_code, r.content, sorted(r.headers.multi_items())))
    # Only the second took Starlette's way (its slashes folded before the metrics).
    assert routed == ["/api/42/envelope/"]
    assert answers[0] == answers[1]
    code, _, response_headers = answers[0]
    assert code == status
    assert ("access-control-allow-origin", "*") in response_headers
    assert ("content-type", "application/json") in response_headers


async def test_the_fast_path_is_counted_in_the_metrics(app: RelhealthApp) -> None:
    async with _client(app) as client:
        for _ in range(2):
            r = await client.post("/api/42/envelope/", content=_envelope(_SESSION), headers=_AUTH)
            assert r.status_code == 200
        r = await client.post("/api/x/envelope/", content=_envelope(_SESSION), headers=_AUTH)
        assert r.status_code == 400
        body = (await client.get("/metrics")).text
    assert _metric(body, 200) == 2
    assert _metric(body, 400) == 1


def _scope(path: str = "/api/42/envelope/") -> dict[str, Any]:
    headers = [(b"x-sentry-auth", _AUTH["X-Sentry-Auth"].encode()), (b"content-type", b"text/plain")]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.9", 51000),
        "server": ("127.0.0.1", 9000),
    }


async def _call(
    app: RelhealthApp, messages: list[dict[str, Any]], sent: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Call the app on `POST /api/42/envelope/` with the given request messages; the
    messages it sent (also into `sent`, for a call that raises)."""
    out = [] if sent is None else sent

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(_scope(), receive, send)
    return out


async def test_a_body_in_several_chunks(app: RelhealthApp) -> None:
    body = _envelope(_SESSION)
    messages = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": body[10:], "more_body": False},
    ]
    sent = await _call(app, messages)
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"{}"
    assert app.state.services.body_budget.used == 0


async def test_a_client_gone_before_its_body_gets_no_answer_and_holds_no_budget(app: RelhealthApp) -> None:
    messages = [
        {"type": "http.request", "body": b"{}\n", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = await _call(app, messages)
    assert sent == []
    assert app.state.services.body_budget.used == 0
    async with _client(app) as client:
        body = (await client.get("/metrics")).text
    assert _metric(body, 499) == 1


async def test_an_unexpected_error_is_a_500_and_raised(
    app: RelhealthApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.services.series_limit, "admit", broken)
    messages = [{"type": "http.request", "body": _envelope(_SESSION), "more_body": False}]
    sent: list[dict[str, Any]] = []
    with pytest.raises(RuntimeError, match="boom"):
        await _call(app, messages, sent)
    assert sent[0]["status"] == 500
    assert sent[1]["body"] == b"Internal Server Error"
    assert app.state.services.body_budget.used == 0
    async with _client(app) as client:
        body = (await client.get("/metrics")).text
    assert _metric(body, 500) == 1
