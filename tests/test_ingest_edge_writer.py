"""The write path never holds the event loop for long: big groups are folded off it and a
group commit stops growing at a bounded number of increments."""

from __future__ import annotations

import asyncio
import time

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.store import SessionStore
from storage.types import SessionIncrement, WriteBatch
from storage.writer import BatchWriter


def big_batch(n: int, project_id: int = 1) -> WriteBatch:
    return WriteBatch(
        increments=[
            SessionIncrement(
                project_id,
                "r@1",
                "prod",
                1_700_000_000 + (i % 600) * 60,
                started_count=1,
                user=f"user-{i}",
                user_tags=1,
            )
            for i in range(n)
        ]
    )


async def test_folding_a_big_batch_does_not_stall_the_event_loop(sqlite_url):
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    try:
        await AccountStore(engine).create_project("acme", "app", 1)
        store = SessionStore(engine)
        await store.apply([big_batch(10)])  # the series exists: only folding and writing remain
        batch = big_batch(150_000)
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)  # the ticker is running
        started = time.perf_counter()
        await store.apply([batch])
        elapsed = time.perf_counter() - started
        done = True
        await task
        # Folding 150,000 increments on the loop held it ~1-1.7 s here; off it, the loop kept ticking
        assert elapsed > 0.2
        assert max(gaps) < 0.6, (max(gaps), elapsed)
    finally:
        await engine.dispose()


class RecordingStore:
    def __init__(self) -> None:
        self.groups: list[int] = []

    async def apply(self, batches, *, import_chunk=None):
        self.groups.append(sum(len(b.increments) for b in batches))
        await asyncio.sleep(0.01)


async def test_group_commits_stop_growing_at_the_increment_bound():
    store = RecordingStore()
    writer = BatchWriter(store, max_group_increments=50_000)  # type: ignore[arg-type]
    await writer.start()
    try:
        batch = WriteBatch(increments=[SessionIncrement(1, "r", None, 0.0, started_count=1)] * 30_000)
        small = WriteBatch(increments=[SessionIncrement(1, "r", None, 0.0, started_count=1)])
        await asyncio.gather(*(writer.write(b) for b in [small, batch, batch, batch, batch, small, small]))
    finally:
        await writer.stop()
    assert sum(store.groups) == 4 * 30_000 + 3
    assert max(store.groups) <= 60_001  # one batch past the bound at most, never all of them
    assert len(store.groups) >= 3
