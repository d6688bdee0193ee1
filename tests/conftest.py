"""Shared fixtures: databases (SQLite and the real PostgreSQL), apps and live servers."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from server.app import create_app
from server.clock import Clock
from server.services import Services
from server.settings import Settings

PG_ADMIN_URL = os.environ.get("RELHEALTH_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def _require_postgres() -> None:
    if _postgres_reachable():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("PostgreSQL on 127.0.0.1:5432 is required under CI=true but is not reachable")
    pytest.skip(
        "PostgreSQL is not reachable on 127.0.0.1:5432; PostgreSQL cases skipped (run with it to cover them)"
    )


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    _require_postgres()
    name = f"relhealth_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test using this runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'relhealth.db'}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'relhealth.db'}"


@dataclass
class AppHandle:
    """An app running its lifespan in the test's event loop, with an in-process client."""

    services: Services
    client: httpx.AsyncClient


@pytest.fixture
async def make_app() -> AsyncIterator[object]:
    """`await make_app(settings, clock)` starts an app; everything stops after the test."""
    stack: list[tuple[object, httpx.AsyncClient]] = []

    async def start(settings: Settings, clock: Clock | None = None) -> AppHandle:
        app = create_app(settings, clock=clock)
        ctx = app.router.lifespan_context(app)
        await ctx.__aenter__()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 51000)),
            base_url="http://127.0.0.1:9000",
        )
        stack.append((ctx, client))
        return AppHandle(app.state.services, client)

    yield start
    for ctx, client in reversed(stack):
        await client.aclose()
        await ctx.__aexit__(None, None, None)  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.port = free_port()
        settings = settings.model_copy(update={"host": "127.0.0.1", "port": self.port})
        self.settings = settings
        self.app = create_app(settings, clock=clock)
        #: Content-Encoding header of every envelope request received, in order.
        self.encodings: list[str | None] = []
        config = uvicorn.Config(
            self._recording,
            interface="asgi3",
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def _recording(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and "/envelope" in scope["path"]:
            headers = dict(scope["headers"])
            value = headers.get(b"content-encoding")
            self.encodings.append(value.decode() if value else None)
        await self.app(scope, receive, send)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    @property
    def services(self) -> Services:
        return self.app.state.services  # type: ignore[no-any-return]

    def run(self, coro_factory):  # type: ignore[no-untyped-def]
        """Run a coroutine on the server's own event loop (its engine lives there)."""
        loop = self.server_loop()
        return asyncio.run_coroutine_threadsafe(coro_factory(), loop).result(timeout=60)

    def server_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _capture_loop(self) -> None:
        self._loop = asyncio.get_running_loop()


@pytest.fixture
def live_server() -> Iterator[object]:
    """`live_server(settings, clock)` starts a real server; stopped after the test."""
    servers: list[LiveServer] = []

    def start(settings: Settings, clock: Clock | None = None) -> LiveServer:
        server = LiveServer(settings, clock)
        original_startup = server.server.startup

        async def startup(sockets=None):  # type: ignore[no-untyped-def]
            server._capture_loop()
            await original_startup(sockets=sockets)

        server.server.startup = startup  # type: ignore[method-assign]
        servers.append(server.start())
        return server

    yield start
    for s in servers:
        s.stop()
