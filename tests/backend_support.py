"""Helpers of the backend-function tests (`tests/test_backend_*.py`): an app over a real
store with two organizations, session increments built by hand, and a GraphQL client.

`backend` serves sessions from the SQL store of the database URL; `memory_backend` (an
app) and `memory_store` (a store alone, for resolvers called directly) from the in-memory
reference store (`storage.memory`): the contract suite (`tests/store_contract/`) holds the
SQL stores to the same answers on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.simulate import session_update
from server.clock import FixedClock
from server.settings import Settings
from storage.memory import MemoryStore
from storage.types import SessionIncrement, WriteBatch
from tests.sqlite_template import migrated_sqlite_url

#: Projects: acme/web = 1, acme/api = 2 (organization "acme"), globex/shop = 3.
WEB, API, SHOP = 1, 2, 3


def ts(text: str) -> float:
    """Unix seconds of an ISO date-time (UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def dt(text: str) -> datetime:
    return datetime.fromtimestamp(ts(text), UTC)


@dataclass
class Backend:
    app: Any
    token: str
    other_token: str
    acme: int
    globex: int

    @property
    def store(self) -> Any:
        return self.app.services.store

    @property
    def accounts(self) -> Any:
        return self.app.services.accounts

    async def write(self, *increments: SessionIncrement) -> None:
        await self.store.apply([WriteBatch(list(increments))])

    async def gql(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        r = await self.app.client.post(
            "/graphql/v1", json={"query": query, "variables": variables}, headers=headers
        )
        body: dict[str, Any] = r.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.gql(query, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


#: The server clock of the test apps (the GraphQL context's default `now`).
CLOCK = "2021-01-15T00:00:00Z"


async def backend(make_app: Any, url: str, clock: str = CLOCK, **settings: Any) -> Backend:
    # No background pass reads the database while a test counts statements: the webhook
    # sender's claim every second, and the alert evaluator (their own tests start them).
    settings.setdefault("webhook_interval_seconds", 0)
    settings.setdefault("alert_interval_seconds", 0)
    app = await make_app(Settings(database_url=url, **settings), FixedClock(ts(clock)))
    acc = app.services.accounts
    web, _ = await acc.create_project("acme", "web", WEB)
    await acc.create_project("acme", "api", API)
    shop, _ = await acc.create_project("globex", "shop", SHOP)
    token = await acc.create_token("acme", ["org:read"])
    other = await acc.create_token("globex", ["org:read"])
    return Backend(app, token, other, web.org_id, shop.org_id)


async def memory_backend(make_app: Any, tmp_path: Path, clock: str = CLOCK, **settings: Any) -> Backend:
    """Like `backend`, but sessions are written to and read from a `MemoryStore`; accounts
    (organizations, projects, tokens) stay in a SQLite file copied from a migrated template,
    which spares each test the migrations. Only `Backend.write` reaches the memory store:
    envelopes posted over HTTP would still go to SQLite."""
    url = await migrated_sqlite_url(tmp_path, "accounts.db")
    b = await backend(make_app, url, clock, **settings)
    b.app.services.store = MemoryStore({WEB: b.acme, API: b.acme, SHOP: b.globex})
    return b


@dataclass
class StoreOnly:
    """A `MemoryStore` with the backend's projects and no app: for tests that call
    resolvers directly, which need nothing but a store."""

    store: MemoryStore
    acme: int
    globex: int

    async def write(self, *increments: SessionIncrement) -> None:
        await self.store.apply([WriteBatch(list(increments))])


def memory_store() -> StoreOnly:
    # The organization ids `backend` gets on a fresh database: acme first, then globex.
    acme, globex = 1, 2
    return StoreOnly(MemoryStore({WEB: acme, API: acme, SHOP: globex}), acme, globex)


def session(
    project: int,
    release: str,
    started: float,
    *,
    env: str | None = "production",
    user: str | None = None,
    status: str = "ok",
    sid: str | None = None,
    init: bool = True,
    duration: float | None = None,
) -> SessionIncrement:
    """One session update as the ingest pipeline stores it (release-health.md 2.3), through
    ingest's own rule (`ingest.simulate`).

    `status` is ok / exited / errored / crashed / abnormal / unhandled; every status but ok
    and exited is errored and needs a `sid` for the error set. `duration` counts only for
    exited updates.
    """
    increment = session_update(
        project,
        release,
        started,
        environment=env,
        status=status,
        init=init,
        sid=sid,
        did=user,
        duration=duration,
    )
    if increment is None:
        raise ValueError("this update stores nothing (no init, user, error or duration)")
    return increment


def sid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"
