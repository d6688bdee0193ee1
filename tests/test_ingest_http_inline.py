"""Small uncompressed envelopes are parsed on the event loop; compressed or bigger ones in
a worker thread (server/envelope_endpoint.py `INLINE_BODY_LIMIT`). Both give the same
answer and store the same data."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import pytest

from server import envelope_endpoint
from server.clock import FixedClock
from server.settings import Settings
from tests.test_ingest_http import KEY, RECEIVED, _outcomes

_SESSION = (
    '{"type":"session"}\n'
    '{"init":true,"started":"2025-06-02T09:58:12Z","status":"exited","did":"u1","attrs":{"release":"r@1"}}'
)


def _body(padding: int = 0) -> bytes:
    # A client report item pads the body without changing what is stored.
    pad = '{"type":"client_report"}\n{"x":"' + "p" * padding + '"}\n' if padding else ""
    return ("{}\n" + _SESSION + "\n" + pad).encode()


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The envelope endpoint's work handed to a worker thread (other startup work, such
    as the schema lock, goes through `asyncio.to_thread` too and is left out)."""
    seen: list[str] = []
    real = asyncio.to_thread

    async def counting(func: Callable[[], Any], /, *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "__qualname__", "")
        if name.startswith("_process."):
            seen.append(name)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(envelope_endpoint.asyncio, "to_thread", counting)
    return seen


@pytest.mark.parametrize(
    ("body", "encoding", "in_thread"),
    [
        (_body(), None, False),
        (_body(envelope_endpoint.INLINE_BODY_LIMIT - 200), None, False),
        (_body(envelope_endpoint.INLINE_BODY_LIMIT), None, True),
        (gzip.compress(_body()), "gzip", True),
    ],
    ids=["small", "at-limit", "over-limit", "compressed"],
)
async def test_where_envelopes_are_parsed(
    make_app: Any, sqlite_url: str, threads: list[str], body: bytes, encoding: str | None, in_thread: bool
) -> None:
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7"}
    if encoding:
        headers["Content-Encoding"] = encoding
    if not encoding and not in_thread:
        assert len(body) <= envelope_endpoint.INLINE_BODY_LIMIT
    r = await app.client.post("/api/42/envelope/", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {}
    assert bool(threads) is in_thread
    assert (await _outcomes(app))[("session", "accepted", "")] == 1


async def test_dsn_in_the_envelope_header_is_read_inline(
    make_app: Any, sqlite_url: str, threads: list[str]
) -> None:
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    header = '{"dsn":"https://' + KEY + '@o1.ingest.example.com/42"}'
    body = (header + "\n" + _SESSION + "\n").encode()
    r = await app.client.post("/api/42/envelope/", content=body)
    assert r.status_code == 200, r.text
    assert threads == []
    assert (await _outcomes(app))[("session", "accepted", "")] == 1
