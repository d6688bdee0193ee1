"""A warm SQLite group commit is one call on aiosqlite's thread: the whole transaction
(`storage.sql.write._sqlite_transaction`), and no rollback when the writer's connection
goes back to its pool (`storage.engine`, `writer=True`). Each such call also waits its
turn in the busy event loop, so every one counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiosqlite.core
import pytest

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.store import SessionStore
from storage.types import SessionIncrement, WriteBatch


def _batch(user: str) -> WriteBatch:
    return WriteBatch(
        increments=[
            SessionIncrement(42, "r@1", "prod", time.time() - 60, started_count=1, user=user, duration=3.0)
        ]
    )


async def test_a_group_commit_is_one_driver_call(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    await AccountStore(engine).create_project("acme", "web", 42)
    await engine.dispose()
    calls: list[str] = []
    real = aiosqlite.core.Connection._execute

    async def counting(self: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counting)
    writer = create_engine(sqlite_url, writer=True)
    try:
        store = SessionStore(writer)
        await store.apply([_batch("u1")])  # the series and its caches are made here
        calls.clear()
        await store.apply([_batch("u2"), _batch("u3")])
        assert calls == ["transaction"]
        calls.clear()
        await store.apply([_batch("u2")])
        assert calls == ["transaction"]
    finally:
        await writer.dispose()
    # Committed, and the connection was left outside a transaction.
    reader = create_engine(sqlite_url)
    try:
        async with reader.connect() as conn:
            rows = await conn.exec_driver_sql("SELECT SUM(started) FROM fact_counter WHERE granularity = 60")
            assert rows.scalar() == 4
    finally:
        await reader.dispose()
