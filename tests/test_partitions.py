"""PostgreSQL time partitions of the fact tables (migration 0007, `storage.sql.partitions`):
writes to any bucket succeed, the cleanup creates windows and moves waiting rows into
them, drops whole expired partitions, deletes only the boundary partition's expired rows,
and the answers are those of row-by-row retention (tests/test_retention.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from resolvers.options import QueryOptions
from server.clock import FixedClock
from server.settings import Settings
from storage.retention import delete_expired
from storage.sql import partitions
from storage.store import SessionStore
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    USER_SEEN,
    AggregateQuery,
    GroupKey,
    Quantity,
    SessionIncrement,
    WriteBatch,
)
from tests.conftest import _pg_admin, _require_postgres

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
RETENTION = {"minute_retention_days": 30, "hour_retention_days": 100, "day_retention_days": 200}
OPTIONS = QueryOptions(minute_retention=30 * DAY, hour_retention=100 * DAY, day_retention=200 * DAY)
#: Ages (seconds before NOW) of one session each: kept everywhere; minute gone; minute and
#: hour gone; all gone; and one in the boundary minute window on each side of its cutoff.
AGES = {
    "fresh": 10 * DAY + 1234,
    "month": 40 * DAY + 1234,
    "season": 150 * DAY + 1234,
    "ancient": 300 * DAY + 1234,
}
MINUTE_CUTOFF = int(NOW) - 30 * DAY  # 2025-05-03T10:00:30Z: inside the window of May 3
BOUNDARY = {"just_expired": MINUTE_CUTOFF - 3600, "just_kept": MINUTE_CUTOFF + 3600}


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (the partition layout starts from scratch)."""
    _require_postgres()
    name = f"relhealth_test_pg_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _session(started: float) -> SessionIncrement:
    return SessionIncrement(
        project_id=1,
        release="app@1.0",
        environment="production",
        started=started,
        started_count=1,
        user=f"u{started}",
        user_tags=USER_SEEN,
        duration=12.5,
    )


async def _store(make_app, url: str, clock: float = NOW) -> SessionStore:
    """A store whose writer's clock reads `clock` (it makes no minute row older than the
    minute retention before it)."""
    app = await make_app(
        Settings(database_url=url, **RETENTION, retention_interval_seconds=0), FixedClock(clock)
    )
    await app.services.accounts.create_project("acme", "web", 1)
    store: SessionStore = app.services.store
    return store


async def _scalar(store: SessionStore, sql: str) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def _windows(store: SessionStore, g: int) -> list[tuple[int | None, int | None]]:
    async with store.engine.connect() as conn:
        return [(p.lo, p.hi) for p in await partitions.partitions(conn, "fact_counter", g)]


async def _started(store: SessionStore, granularity: int, t: float) -> int:
    lo = int(t) - int(t) % granularity
    result = await store.aggregate(
        AggregateQuery(
            project_ids=(1,),
            start=lo,
            end=lo + granularity,
            granularity=granularity,
            quantities=frozenset(Quantity),
        )
    )
    agg = result.totals.get(GroupKey())
    return agg.counters.started if agg else 0


async def test_fact_tables_are_partitioned_and_take_any_bucket(make_app, pg_url):
    store = await _store(make_app, pg_url)
    async with store.engine.connect() as conn:
        for table in partitions.TABLES:
            assert await partitions.is_partitioned(conn, table), table
    # No range partition exists yet: a bucket of 1970 and one 3 years ahead land in the
    # granularities' DEFAULT partitions (the one of 1970 in hour and day only: it is older
    # than the minute retention, so the writer makes no minute row of it).
    await store.apply([WriteBatch([_session(0.0), _session(NOW + 1000 * DAY)])])
    schema = partitions.SCHEMA
    assert await _scalar(store, f"SELECT count(*) FROM {schema}.fact_counter_g60_default") == 1
    assert await _scalar(store, f"SELECT count(*) FROM {schema}.fact_counter_g3600_default") == 2
    # Sketch rows alike, two per bucket: the users sketch and the duration bins (kind 8).
    assert await _scalar(store, f"SELECT count(*) FROM {schema}.fact_sketch_g60_default") == 2
    assert await _scalar(store, f"SELECT count(*) FROM {schema}.fact_sketch_g86400_default") == 4
    assert await _started(store, DAY, 0.0) == 1
    assert await _started(store, HOUR, NOW + 1000 * DAY) == 1


async def test_cleanup_drops_expired_partitions_and_trims_the_boundary(make_app, pg_url):
    # The writes happen 400 days back, so every session gets its minute rows (expired by
    # NOW, whose cleanup must find them in the windows it drops or trims).
    store = await _store(make_app, pg_url, clock=NOW - 400 * DAY)
    times = {name: NOW - age for name, age in AGES.items()} | BOUNDARY
    await store.apply([WriteBatch([_session(t) for t in times.values()])])
    # A first cleanup, 400 days earlier: nothing has expired then, and every window that
    # holds data is made, its rows moved out of the DEFAULT partition.
    earlier = await delete_expired(store.engine, now=NOW - 400 * DAY, retention=OPTIONS.retention)
    assert set(earlier.values()) == {0}
    assert await _scalar(store, "SELECT count(*) FROM relhealth_partitions.fact_counter_g60_default") == 0
    minute_windows = await _windows(store, MINUTE)
    day = DAY
    for t in times.values():
        lo = int(t) - int(t) % day
        assert (lo, lo + day) in minute_windows
    # Six sessions, one counter row each per granularity, but the two boundary sessions
    # (09:00 and 11:00 on May 3) share their day: 6 + 6 + 5.
    assert await _scalar(store, "SELECT count(*) FROM fact_counter") == 17
    # Two sketch rows per counter row: users (USER_SEEN) and duration bins (kind 8).
    assert await _scalar(store, "SELECT count(*) FROM fact_sketch") == 34

    deleted = await delete_expired(store.engine, now=NOW, retention=OPTIONS.retention, batch_rows=2)
    # Expired: minute: month, season, ancient, just_expired (4); hour (100 d): season,
    # ancient (2); day (200 d): ancient (1).
    assert deleted["fact_counter"] == 7
    assert deleted["fact_sketch"] == 14  # users and duration bins of each bucket
    minute_windows = await _windows(store, MINUTE)
    for name in ("month", "season", "ancient"):  # whole windows before the cutoff: dropped
        lo = int(times[name]) - int(times[name]) % DAY
        assert (lo, lo + DAY) not in minute_windows, name
    boundary = MINUTE_CUTOFF - MINUTE_CUTOFF % DAY
    assert (boundary, boundary + DAY) in minute_windows  # straddles the cutoff: kept, trimmed
    table = partitions.window_name("fact_counter", MINUTE, boundary)
    assert await _scalar(store, f"SELECT count(*) FROM {table}") == 1  # just_kept
    sketch_table = partitions.window_name("fact_sketch", MINUTE, boundary)
    assert await _scalar(store, f"SELECT count(*) FROM {sketch_table}") == 2
    # The answers are exactly row-by-row retention's (tests/test_retention.py).
    for name, t in times.items():
        assert await _started(store, MINUTE, t) == int(name in ("fresh", "just_kept")), name
        assert await _started(store, HOUR, t) == int(name not in ("season", "ancient")), name
        assert await _started(store, DAY, t) == (2 if name in BOUNDARY else int(name != "ancient")), name
    # Windows around now exist for every granularity (made ahead of the writes).
    for g in (MINUTE, HOUR, DAY):
        lo, hi = partitions.window_of(int(NOW), g)
        assert (lo, hi) in await _windows(store, g)
    # Idempotent: nothing more to delete; writes to any bucket still succeed.
    again = await delete_expired(store.engine, now=NOW, retention=OPTIONS.retention)
    assert set(again.values()) == {0}
    await store.apply([WriteBatch([_session(times["ancient"]), _session(NOW + 5 * DAY), _session(NOW)])])
    assert await _started(store, MINUTE, NOW) == 1
    assert await _started(store, DAY, NOW + 5 * DAY) == 1


async def _on(url: str, fn):
    from storage.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def test_migration_moves_existing_rows_into_windows_and_back(pg_url):
    from alembic import command

    from storage.schema import alembic_config

    await _on(pg_url, lambda conn: command.upgrade(alembic_config(conn), "0006"))
    # Two minute rows in one day window, one in another day, one hourly row; a sketch row
    # (kind 8, duration bins) beside each.
    day1, day2 = 1_748_822_400, 1_748_908_800  # 2025-06-02, 2025-06-03 (multiples of a day)
    rows = [(60, 1, day1 + 60, 2), (60, 1, day1 + 120, 3), (60, 2, day2, 5), (3600, 1, day1, 7)]

    def load(conn):
        for g, s, b, n in rows:
            conn.execute(
                text(
                    "INSERT INTO fact_counter (granularity, series_id, bucket, started, crashed, abnormal,"
                    " unhandled, errored_preaggr, dur_count, dur_sum) VALUES (:g, :s, :b, :n, 0, 0, 0, 0, 0, 0)"
                ),
                {"g": g, "s": s, "b": b, "n": n},
            )
            conn.execute(
                text("INSERT INTO fact_sketch VALUES (:g, :s, :b, 8, :blob)"),
                {"g": g, "s": s, "b": b, "blob": bytes([n])},
            )

    await _on(pg_url, load)
    await _on(pg_url, lambda conn: command.upgrade(alembic_config(conn), "0007"))

    def count(conn, table):
        return conn.execute(text(f"SELECT count(*), coalesce(sum(started), 0) FROM {table}")).one()

    schema = partitions.SCHEMA
    assert await _on(pg_url, lambda c: count(c, "fact_counter")) == (4, 17)
    assert await _on(pg_url, lambda c: count(c, f"{schema}.fact_counter_g60_{day1}")) == (2, 5)
    assert await _on(pg_url, lambda c: count(c, f"{schema}.fact_counter_g60_{day2}")) == (1, 5)
    # 2025-06-02 lies in the hourly week window starting at 2025-05-29 (a multiple of 7 days).
    week = day1 - day1 % (7 * DAY)
    assert await _on(pg_url, lambda c: count(c, f"{schema}.fact_counter_g3600_{week}")) == (1, 7)
    assert await _on(pg_url, lambda c: count(c, f"{schema}.fact_counter_g60_default")) == (0, 0)

    def blobs(conn, table):
        return sorted(bytes(b)[0] for (b,) in conn.execute(text(f"SELECT sketch FROM {table}")))

    assert await _on(pg_url, lambda c: blobs(c, f"{schema}.fact_sketch_g60_{day1}")) == [2, 3]
    assert await _on(pg_url, lambda c: blobs(c, f"{schema}.fact_sketch_g3600_{week}")) == [7]

    await _on(pg_url, lambda conn: command.downgrade(alembic_config(conn), "0006"))
    assert await _on(pg_url, lambda c: count(c, "fact_counter")) == (4, 17)
    assert await _on(pg_url, lambda c: blobs(c, "fact_sketch")) == [2, 3, 5, 7]
    partitioned = await _on(
        pg_url, lambda c: c.execute(text("SELECT count(*) FROM pg_partitioned_table")).scalar_one()
    )
    assert partitioned == 0


async def test_one_process_at_a_time_maintains_a_table(make_app, pg_url):
    store = await _store(make_app, pg_url)
    await store.apply([WriteBatch([_session(NOW - AGES["fresh"])])])
    key = {"ns": partitions.LOCK_NAMESPACE, "k": partitions.TABLES.index("fact_counter")}
    async with store.engine.connect() as other:  # another process's cleanup, mid-way
        assert (await other.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), key)).scalar_one()
        await other.commit()
        skipped = await partitions.maintain(
            store.engine, "fact_counter", now=NOW, retention=OPTIONS.retention
        )
        assert skipped == (0, [])
        assert await _scalar(store, "SELECT count(*) FROM relhealth_partitions.fact_counter_g60_default") == 1
        await other.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), key)
        await other.commit()
    dropped, trim = await partitions.maintain(
        store.engine, "fact_counter", now=NOW, retention=OPTIONS.retention
    )
    # Nothing expired; the fresh row moved into its window; left to trim: the three
    # DEFAULT partitions (and no straddling window: none was made around the cutoffs).
    assert dropped == 0
    assert sorted(trim) == [(g, partitions.default_name("fact_counter", g)) for g in (MINUTE, HOUR, DAY)]
    assert await _scalar(store, "SELECT count(*) FROM relhealth_partitions.fact_counter_g60_default") == 0
