"""The live writer's group commit on its own thread (storage/sql/committer.py): every
batch answered is committed exactly once, a bad batch fails only its own request, stop
drains the queue, and the sketches it keeps in memory never hide a write made by
another connection (SQLite's `data_version`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.sql.committer import SqliteCommitter
from storage.store import SessionStore
from storage.types import HOUR, AggregateQuery, Quantity, SessionIncrement, WriteBatch

NOW = time.time()
AT = NOW - NOW % HOUR - HOUR


def _batch(user: str, release: str = "r@1") -> WriteBatch:
    return WriteBatch(
        [SessionIncrement(42, release, "prod", AT + 60, started_count=1, user=user, duration=3.0)]
    )


async def _totals(store: SessionStore) -> tuple[int, int]:
    result = await store.aggregate(
        AggregateQuery((42,), AT, AT + HOUR, HOUR, frozenset({Quantity.COUNTERS, Quantity.USERS}))
    )
    agg = next(iter(result.totals.values()))
    return agg.counters.started, agg.users.all


@pytest.fixture
async def setup(sqlite_url: str) -> Any:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    await AccountStore(engine).create_project("acme", "web", 42)
    writer_engine = create_engine(sqlite_url, writer=True)
    store = SessionStore(writer_engine)
    committer = SqliteCommitter(str(make_url(sqlite_url).database), store.writer, max_group=8)
    await committer.start()
    yield committer, SessionStore(engine)
    await committer.stop()
    await writer_engine.dispose()
    await engine.dispose()


async def test_concurrent_writes_are_each_committed_once(setup: Any) -> None:
    committer, reader = setup
    await asyncio.gather(*(committer.write(_batch(f"u{i % 30}")) for i in range(200)))
    assert await _totals(reader) == (200, 30)
    assert 1 < committer.groups < 200  # grouped, in groups of at most 8
    assert committer.groups >= 200 / 8


async def test_a_bad_batch_fails_alone(setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    committer, reader = setup
    real = committer._transaction

    def failing(db: Any, group: list[Any]) -> None:
        if any(p.batch.increments[0].release == "bad" for p in group):
            raise RuntimeError("disk on fire")
        real(db, group)

    monkeypatch.setattr(committer, "_transaction", failing)
    results = await asyncio.gather(
        *(committer.write(_batch(f"u{i}", "bad" if i == 3 else "r@1")) for i in range(12)),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("RuntimeError") == 1
    assert isinstance(results[3], RuntimeError)
    assert await _totals(reader) == (11, 11)


async def test_stop_commits_what_is_queued(setup: Any) -> None:
    committer, reader = setup
    writes = [asyncio.ensure_future(committer.write(_batch(f"u{i}"))) for i in range(50)]
    await asyncio.sleep(0)  # queued
    await committer.stop()
    await asyncio.gather(*writes)
    assert await _totals(reader) == (50, 50)
    await committer.start()  # the fixture stops it again


async def test_a_write_by_another_connection_is_never_overwritten(setup: Any) -> None:
    committer, reader = setup
    await committer.write(_batch("u1"))
    await committer.write(_batch("u2"))
    assert committer.sketches.hits > 0  # the second merged into the cached sketch
    # Another process (here: another engine) adds a user to the same sketches.
    await reader.apply([_batch("u3")])
    await committer.write(_batch("u4"))
    assert await _totals(reader) == (4, 4)  # u3 was read back, not lost
