"""The write path: one transaction per group of batches, upserting folded fact rows.

Writes upsert with `INSERT ... ON CONFLICT ... DO UPDATE`, whose syntax SQLite and
PostgreSQL share; rows are sorted by key so that concurrent writers (several server
processes on one PostgreSQL) always lock in the same order and cannot deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.sql import copy
from storage.sql.catalogue import Catalogue
from storage.sql.fold import fact_rows
from storage.types import WriteBatch

#: Batches with more increments than this are folded into rows in a worker thread.
_FOLD_IN_THREAD = 2000

# Fact writes go through the driver's own executemany with positional parameters (no
# per-row parameter processing in SQLAlchemy); `{}` marks a parameter, rendered as `?` for
# SQLite and `$n` for asyncpg.
_COUNTER_UPSERT = (
    "INSERT INTO fact_counter (granularity, series_id, bucket, started, crashed, abnormal,"
    " unhandled, errored_preaggr, dur_count, dur_sum, dur_min, dur_max)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket) DO UPDATE SET"
    " started = fact_counter.started + excluded.started,"
    " crashed = fact_counter.crashed + excluded.crashed,"
    " abnormal = fact_counter.abnormal + excluded.abnormal,"
    " unhandled = fact_counter.unhandled + excluded.unhandled,"
    " errored_preaggr = fact_counter.errored_preaggr + excluded.errored_preaggr,"
    " dur_count = fact_counter.dur_count + excluded.dur_count,"
    " dur_sum = fact_counter.dur_sum + excluded.dur_sum,"
    " dur_min = CASE WHEN excluded.dur_min IS NULL THEN fact_counter.dur_min"
    "  WHEN fact_counter.dur_min IS NULL OR excluded.dur_min < fact_counter.dur_min"
    "  THEN excluded.dur_min ELSE fact_counter.dur_min END,"
    " dur_max = CASE WHEN excluded.dur_max IS NULL THEN fact_counter.dur_max"
    "  WHEN fact_counter.dur_max IS NULL OR excluded.dur_max > fact_counter.dur_max"
    "  THEN excluded.dur_max ELSE fact_counter.dur_max END"
)
_ERROR_INSERT = (
    "INSERT INTO fact_error (granularity, series_id, bucket, sid) VALUES ({}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, sid) DO NOTHING"
)
_USER_UPSERT = (
    "INSERT INTO fact_user (granularity, series_id, bucket, did, tags)"
    " VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, did) DO UPDATE SET"
    " tags = fact_user.tags | excluded.tags"
    " WHERE (fact_user.tags | excluded.tags) <> fact_user.tags"
)
_DURATION_UPSERT = (
    "INSERT INTO fact_duration (granularity, series_id, bucket, bin, count)"
    " VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, bin) DO UPDATE SET"
    " count = fact_duration.count + excluded.count"
)
_OUTCOME_UPSERT = (
    "INSERT INTO ingest_outcome (project_id, hour, item_type, kind, reason, count)"
    " VALUES ({}, {}, {}, {}, {}, {})"
    " ON CONFLICT (project_id, hour, item_type, kind, reason) DO UPDATE SET"
    " count = ingest_outcome.count + excluded.count"
)
_IMPORT_CHUNK_INSERT = (
    "INSERT INTO import_chunk (org_id, import_id, first_line, last_line) VALUES ({}, {}, {}, {})"
)
_FACT_STATEMENTS = (_COUNTER_UPSERT, _ERROR_INSERT, _USER_UPSERT, _DURATION_UPSERT, _OUTCOME_UPSERT)


def _render(template: str, dialect: str) -> str:
    n = template.count("{}")
    if dialect == "postgresql":
        return template.format(*(f"${i}" for i in range(1, n + 1)))
    return template.format(*("?" * n))


class FactWriter:
    """Applies write batches to the fact tables of one engine."""

    def __init__(self, engine: AsyncEngine, catalogue: Catalogue) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self._statements: dict[str, tuple[str, ...]] = {}

    async def apply(
        self,
        batches: Sequence[WriteBatch],
        *,
        import_chunk: tuple[int, str, int, int] | None = None,
    ) -> None:
        """Apply batches in one transaction: all of them count, or none does.

        `import_chunk` (import scope, import id, first line, last line) is recorded in the same
        transaction: bulk import's progress, which makes re-runs skip committed lines. A
        plain INSERT, so a concurrent run of the same import that recorded the chunk first
        makes this transaction fail instead of counting the chunk twice.
        """
        merged = batches[0] if len(batches) == 1 else WriteBatch()
        if len(batches) > 1:
            for batch in batches:
                merged.extend(batch)
        series_ids = await self.catalogue.series_for(merged)
        dialect = self.engine.dialect.name
        # Rows are sorted by key only where writers can run concurrently (PostgreSQL, to
        # lock in one order); SQLite has a single writer at a time.
        sort = dialect != "sqlite"
        if len(merged.increments) > _FOLD_IN_THREAD:
            # Folding a big group takes tens of milliseconds or more: off the event loop.
            rows = await asyncio.to_thread(fact_rows, merged, dict(series_ids), sort=sort)
        else:
            rows = fact_rows(merged, series_ids, sort=sort)
        statements = self._statements.get(dialect)
        if statements is None:
            statements = self._statements[dialect] = tuple(_render(t, dialect) for t in _FACT_STATEMENTS)
        work = [(sql, params) for sql, params in zip(statements, rows.all(), strict=True) if params]
        if import_chunk is not None:
            work.append((_render(_IMPORT_CHUNK_INSERT, dialect), [import_chunk]))
        if dialect == "sqlite":
            async with self.engine.connect() as conn:
                if await _sqlite_transaction(conn, work):
                    return
        async with self.engine.begin() as conn:
            await copy.execute_all(conn, work)  # big upserts through COPY on PostgreSQL


async def _sqlite_transaction(conn: AsyncConnection, work: list[tuple[str, list[tuple[Any, ...]]]]) -> bool:
    """Run a whole write transaction (BEGIN, every executemany, COMMIT) as one function on
    aiosqlite's thread; False when the driver connection is not aiosqlite's.

    Each awaited driver call is a round trip to that thread whose answer waits its turn in
    the event loop, behind every request being served; under ingest load those waits,
    not SQLite, made most of a group commit's time. One trip instead of one per
    statement plus the commit keeps a group commit short. The connection is left outside
    a transaction (rolled back on any error), as the pool expects it.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    run_in_thread = getattr(driver, "_execute", None)
    if run_in_thread is None or not hasattr(driver, "_conn"):
        return False

    def transaction() -> None:
        db = driver._conn
        if db.in_transaction:
            db.rollback()
        db.execute("BEGIN")
        try:
            for sql, params in work:
                db.executemany(sql, params)
            db.commit()
        except BaseException:
            db.rollback()
            raise

    await run_in_thread(transaction)
    return True
