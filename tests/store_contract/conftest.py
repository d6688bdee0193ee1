"""The stores under contract: the in-memory reference, SQLite and PostgreSQL.

Every test of this package takes `subject` and runs once per store. PostgreSQL cases run
when the server is reachable and are required under CI=true (`tests/conftest.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.memory import MemoryStore
from storage.protocol import Store
from storage.schema import ensure_schema
from storage.store import SessionStore
from tests.conftest import _truncate_postgres
from tests.sqlite_template import migrated_sqlite_url

#: Projects: acme/web = 1, acme/api = 2 (organization "acme"), globex/shop = 3.
WEB, API, SHOP = 1, 2, 3


@dataclass
class Subject:
    """A store under contract and the organization ids of its projects."""

    kind: str
    store: Store
    acme: int
    globex: int


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param in ("memory", "sqlite"):
        return str(request.param)
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
async def subject(store_url: str, tmp_path: Path) -> AsyncIterator[Subject]:
    if store_url == "memory":
        # Arbitrary organization ids: nothing may depend on their values.
        yield Subject("memory", MemoryStore({WEB: 7, API: 7, SHOP: 9}), acme=7, globex=9)
        return
    if store_url == "sqlite":
        store_url = await migrated_sqlite_url(tmp_path, "contract.db")
    engine = create_engine(store_url)
    try:
        await ensure_schema(engine)
        accounts = AccountStore(engine)
        web, _ = await accounts.create_project("acme", "web", WEB)
        await accounts.create_project("acme", "api", API)
        shop, _ = await accounts.create_project("globex", "shop", SHOP)
        kind = "sqlite" if store_url.startswith("sqlite") else "postgres"
        yield Subject(kind, SessionStore(engine), acme=web.org_id, globex=shop.org_id)
    finally:
        await engine.dispose()
