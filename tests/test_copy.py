"""Big upserts through COPY into a staging table on PostgreSQL (`storage.sql.copy`): the
same rows stored as by executemany, inserted and then updated on conflict: counters
added, sketch blobs (distinct sets, packed duration bins) replaced by the writer's merge."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.clock import FixedClock
from server.settings import Settings
from storage import sketch
from storage.sql import copy, sketches
from storage.sql.write import _COUNTER_UPSERT, _IMPORT_CHUNK_INSERT, _render
from storage.types import (
    DAY,
    HOUR,
    USER_SEEN,
    AggregateQuery,
    GroupKey,
    Quantity,
    SessionIncrement,
    WriteBatch,
)

T0 = 1_748_822_400  # 2025-06-02T00:00:00Z
#: The writers' clock: two days after T0, so every minute row of `_batch` is within the
#: minute retention (30 days) and gets written.
CLOCK = FixedClock(T0 + 2 * DAY)
USERS = 300


def test_staged_upsert_is_the_writer_statement_from_the_stage():
    table, columns, sql = copy.staged_upsert(_render(sketches.UPSERT_TEMPLATE, "postgresql"))
    assert (table, columns) == ("fact_sketch", ["granularity", "series_id", "bucket", "kind", "sketch"])
    assert sql == (
        "INSERT INTO fact_sketch (granularity, series_id, bucket, kind, sketch)"
        " SELECT granularity, series_id, bucket, kind, sketch FROM stage_fact_sketch"
        " ORDER BY granularity, series_id, bucket, kind"
        " ON CONFLICT (granularity, series_id, bucket, kind) DO UPDATE SET"
        " sketch = excluded.sketch"
    )
    assert copy.staged_upsert(_render(_COUNTER_UPSERT, "postgresql"))[2].endswith(
        "THEN excluded.dur_max ELSE fact_counter.dur_max END"
    )
    # A plain INSERT (the import chunk record must fail on a duplicate) is not an upsert.
    with pytest.raises(ValueError):
        copy.staged_upsert(_render(_IMPORT_CHUNK_INSERT, "postgresql"))


def _batch(n: int) -> WriteBatch:
    """`n` sessions, one per minute from T0, durations 1..n seconds, users u0..u299 in turn."""
    return WriteBatch(
        [
            SessionIncrement(
                project_id=1,
                release="app@1.0",
                environment="production",
                started=T0 + 60 * i,
                started_count=1,
                crashed=int(i % 10 == 0),
                duration=float(i + 1),
                user=f"u{i % USERS}",
                user_tags=USER_SEEN,
            )
            for i in range(n)
        ]
    )


async def test_big_batches_go_through_copy_and_store_the_same_numbers(make_app, database_url, monkeypatch):
    app = await make_app(Settings(database_url=database_url, retention_interval_seconds=0), CLOCK)
    await app.services.accounts.create_project("acme", "web", 1)
    store = app.services.store
    copied: list[tuple[str, int]] = []
    real = copy.copy_upsert

    async def spy(conn, upsert, rows):
        copied.append((copy.staged_upsert(upsert)[0], len(rows)))
        await real(conn, upsert, rows)

    monkeypatch.setattr(copy, "copy_upsert", spy)
    n = 2 * copy.COPY_MIN_ROWS  # 2000 minute rows: over the COPY threshold
    postgres = store.engine.dialect.name == "postgresql"
    # Buckets: 2000 minutes + 34 hours (2000 minutes from midnight) + 2 days = 2036, each
    # with one counter row, one duration-bins row and one users sketch (kind 8 and kind
    # USERS rows of fact_sketch).
    await store.apply([_batch(n)])
    assert copied == ([("fact_counter", 2036), ("fact_sketch", 2 * 2036)] if postgres else [])
    copied.clear()
    # Every row again: the counters all conflict and add; each bucket's duration bins
    # are merged and replaced; the users sketches are unchanged (the same user in the
    # same bucket), so the merge leaves them out.
    await store.apply([_batch(n)])
    assert copied == ([("fact_counter", 2036), ("fact_sketch", 2036)] if postgres else [])
    query = AggregateQuery(
        project_ids=(1,), start=T0, end=T0 + DAY * 2, granularity=HOUR, quantities=frozenset(Quantity)
    )
    agg = (await store.aggregate(query)).totals[GroupKey()]
    # Twice 2000 sessions, 200 of them crashed each time (i = 0, 10, ..., 1990).
    assert (agg.counters.started, agg.counters.crashed) == (4000, 400)
    # Durations 1..2000 twice: count 4000, sum 2 * 2000 * 2001 / 2, min 1, max 2000.
    assert (agg.durations.count, agg.durations.sum) == (4000, 4_002_000.0)
    assert (agg.durations.min, agg.durations.max) == (1.0, 2000.0)
    # The bins, merged over both writes: each duration's bin counted twice.
    once = Counter(sketch.bin_of(float(i + 1)) for i in range(n))
    assert agg.durations.bins == {b: 2 * c for b, c in once.items()}
    assert agg.users.all == USERS  # exact: far below a sketch's 16,384 entries


async def test_a_copied_upsert_rolls_back_with_its_transaction(make_app, database_url):
    """The COPY runs inside the writer's transaction: when a later statement of it fails
    (here the import chunk record, already there), nothing of the batch stays."""
    app = await make_app(Settings(database_url=database_url, retention_interval_seconds=0), CLOCK)
    await app.services.accounts.create_project("acme", "web", 1)
    store = app.services.store
    await store.apply([WriteBatch()], import_chunk=(0, "twice", 1, 10))
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):  # SQLite: raised on its thread
        await store.apply([_batch(2 * copy.COPY_MIN_ROWS)], import_chunk=(0, "twice", 1, 10))
    async with store.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM fact_counter"))).scalar_one() == 0
        assert (await conn.execute(text("SELECT count(*) FROM fact_sketch"))).scalar_one() == 0
