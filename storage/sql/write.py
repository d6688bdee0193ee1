"""The write path: one transaction per group of batches, upserting folded fact rows.

Writes upsert with `INSERT ... ON CONFLICT ... DO UPDATE`, whose syntax SQLite and
PostgreSQL share; rows are sorted by key so that concurrent writers (several server
processes on one PostgreSQL) always lock in the same order and cannot deadlock.
Distinct-count sketches and each bucket's packed duration bins are merged by
read-modify-write in the same transaction (`storage.sql.sketches`, which also says why
that is safe with concurrent writers).
Each transaction issues a fixed number of statements, whatever the number of keys.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.sql import copy, late, sketches
from storage.sql.catalogue import Catalogue
from storage.sql.dimensions import ClientSeries, ClientWork, client_rows
from storage.sql.fold import FactRows, SketchKey, fact_rows
from storage.types import WriteBatch

#: Default minute retention of a bare store (seconds; 0 = forever): nothing is dropped unless
#: the caller says so. The server passes `Settings.minute_retention_days` (30 days).
DEFAULT_MINUTE_RETENTION = 0

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
_OUTCOME_UPSERT = (
    "INSERT INTO ingest_outcome (project_id, hour, item_type, kind, reason, count)"
    " VALUES ({}, {}, {}, {}, {}, {})"
    " ON CONFLICT (project_id, hour, item_type, kind, reason) DO UPDATE SET"
    " count = ingest_outcome.count + excluded.count"
)
_IMPORT_CHUNK_INSERT = (
    "INSERT INTO import_chunk (org_id, import_id, first_line, last_line) VALUES ({}, {}, {}, {})"
)
#: In the order of `FactRows.all()`.
_FACT_STATEMENTS = (_COUNTER_UPSERT, _OUTCOME_UPSERT)

Work = list[tuple[str, list[tuple[Any, ...]]]]


def _render(template: str, dialect: str) -> str:
    n = template.count("{}")
    if dialect == "postgresql":
        return template.format(*(f"${i}" for i in range(1, n + 1)))
    return template.format(*("?" * n))


class FactWriter:
    """Applies write batches to the fact tables of one engine.

    `minute_retention` (seconds, 0 = forever) and the clock `now` decide which minute
    buckets are still written: only those at or after `now() - minute_retention`, the
    ones the cleanup (`storage.retention`) would keep. `clients` writes the client-dimension
    series (`storage.sql.dimensions`).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        catalogue: Catalogue,
        clients: ClientSeries | None = None,
        *,
        minute_retention: int = DEFAULT_MINUTE_RETENTION,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.clients = clients or ClientSeries(engine)  # client dimensions (storage/sql/dimensions.py)
        self.minute_retention = minute_retention
        self.now = now
        self._statements: dict[str, tuple[str, ...]] = {}

    def minute_cutoff(self) -> int | None:
        """The oldest minute bucket start still written (None: every one)."""
        if self.minute_retention <= 0:
            return None
        return int(self.now()) - self.minute_retention

    async def prepare(self, batch: WriteBatch) -> tuple[WriteBatch, ClientWork]:
        """What must happen on the event loop before a batch is folded: its series ids
        (created when new) and its client-dimension series (`dimensions.py`)."""
        await self.catalogue.series_for(batch)
        return await self.clients.expand(batch)

    def statements(self) -> tuple[str, ...]:
        """The fact upserts, then the sketch upsert, in this engine's dialect."""
        dialect = self.engine.dialect.name
        found = self._statements.get(dialect)
        if found is None:
            found = self._statements[dialect] = tuple(
                _render(t, dialect) for t in (*_FACT_STATEMENTS, sketches.UPSERT_TEMPLATE)
            )
        return found

    def late_statement(self) -> str:
        """The upsert marking late (project, hour) pairs (`storage.sql.late`)."""
        return _render(late.UPSERT, self.engine.dialect.name)

    def folder(
        self,
        batch: WriteBatch,
        client_work: ClientWork,
        *,
        sort: bool,
        extra: Sequence[tuple[str, list[tuple[Any, ...]]]] = (),
    ) -> Callable[[], tuple[FactRows, Work]]:
        """The fold of a prepared batch into rows and statements, run where the caller
        chooses (the event loop, a worker thread, the database's thread). The series ids
        are the catalogue's own dict, only ever added to on the loop: the fold's single
        lookups need no copy."""
        series_ids = self.catalogue.known_ids()
        cutoff = self.minute_cutoff()
        statements = self.statements()
        now = self.now()
        mark = self.late_statement()

        def fold() -> tuple[FactRows, Work]:
            rows = fact_rows(batch, series_ids, sort=sort, minute_cutoff=cutoff)
            client_rows(rows, client_work, sort=sort)  # client dimensions
            plain = zip(statements[:-1], rows.all(), strict=True)
            work = [*((sql, params) for sql, params in plain if params), *extra]
            hours = late.late_hours(batch, now)  # late data for the alert evaluator
            if hours:
                work.append((mark, hours))
            return rows, work

        return fold

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
        merged, client_work = await self.prepare(merged)
        dialect = self.engine.dialect.name
        # Rows are sorted by key only where writers can run concurrently (PostgreSQL, to
        # lock in one order); SQLite has a single writer at a time.
        sort = dialect != "sqlite"
        extra: Work = []
        if import_chunk is not None:
            extra.append((_render(_IMPORT_CHUNK_INSERT, dialect), [import_chunk]))
        fold = self.folder(merged, client_work, sort=sort, extra=extra)
        upsert = self.statements()[-1]
        if dialect == "sqlite":
            async with self.engine.connect() as conn:
                if await _sqlite_transaction(conn, fold, upsert):
                    return
        big = len(merged.increments) > _FOLD_IN_THREAD
        if big:
            # Folding a big group takes tens of milliseconds or more: off the event loop.
            rows, work = await asyncio.to_thread(fold)
        else:
            rows, work = fold()
        async with self.engine.begin() as conn:
            if rows.sketches or rows.durations:
                blobs = await _merge_sketches(conn, rows.sketches, rows.durations, sort=sort, in_thread=big)
                if blobs:
                    work.append((upsert, blobs))
            await copy.execute_all(conn, work)  # big upserts through COPY on PostgreSQL


async def _merge_sketches(
    conn: AsyncConnection,
    members: Mapping[SketchKey, set[str]],
    bins: Mapping[SketchKey, Mapping[int, int]],
    *,
    sort: bool,
    in_thread: bool,
) -> list[tuple[Any, ...]]:
    """Lock (PostgreSQL), read the stored sketches of the touched keys, and merge the new
    members and duration bins into them; the upsert rows. Two statements, whatever the
    number of keys."""
    keys = sketches.touched(members, bins)
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(sketches.POSTGRES_LOCK, (sketches.lock_order(keys),))
        result = await conn.exec_driver_sql(sketches.POSTGRES_SELECT, sketches.postgres_keys(keys))
    else:
        # Only a SQLite driver other than aiosqlite gets here, which `storage.engine`
        # never creates; its deferred transaction suits a single process only.
        result = await conn.exec_driver_sql(sketches.SQLITE_SELECT, (sketches.sqlite_keys(keys),))
    stored = sketches.stored_of(result.all())
    if in_thread:
        return await asyncio.to_thread(sketches.merged_rows, members, bins, stored, sort=sort)
    return sketches.merged_rows(members, bins, stored, sort=sort)


async def _sqlite_transaction(
    conn: AsyncConnection, fold: Callable[[], tuple[FactRows, Work]], upsert: str
) -> bool:
    """The live writer's transaction on aiosqlite's thread (`sqlite_transaction`): the
    group folded into rows there too, then the touched sketches read by key and merged
    with the group's members and bins.

    Folding on that thread takes it off the event loop, which under ingest load is the
    bottleneck (every request's HTTP and parsing work runs there), while the thread
    mostly waits between commits. The series ids the fold looks up are the catalogue's
    own dict, only ever added to on the loop: single lookups need no copy.
    """
    return await sqlite_transaction(conn, sketch_merger(fold), upsert)


async def sqlite_transaction(
    conn: AsyncConnection,
    prepare: Callable[[sqlite3.Connection], tuple[Sequence[tuple[Any, ...]], Work]],
    upsert: str,
) -> bool:
    """Run a whole write transaction (BEGIN IMMEDIATE, `prepare`, which reads the stored
    sketches and returns the merged sketch rows to upsert and the other statements' rows,
    every executemany, COMMIT) as one function on aiosqlite's thread; False when the
    driver connection is not aiosqlite's.

    Each awaited driver call is a round trip to that thread whose answer waits its turn in
    the event loop, behind every request being served; under ingest load those waits,
    not SQLite, made most of a group commit's time. One trip instead of one per
    statement plus the commit keeps a group commit short, and merging the sketches there
    keeps that work off the event loop. `BEGIN IMMEDIATE` takes the write lock before the
    sketches are read, so no other process can write between that read and our write.
    The connection is left outside a transaction (rolled back on any error), as the pool
    expects it.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    run_in_thread = getattr(driver, "_execute", None)
    if run_in_thread is None or not hasattr(driver, "_conn"):
        return False

    def transaction() -> None:
        run_transaction(driver._conn, prepare, upsert)

    await run_in_thread(transaction)
    return True


def run_transaction(
    db: sqlite3.Connection,
    prepare: Callable[[sqlite3.Connection], tuple[Sequence[tuple[Any, ...]], Work]],
    upsert: str,
) -> None:
    """BEGIN IMMEDIATE, `prepare`, every executemany, COMMIT, on the calling thread (the
    connection's own); rolled back on any error, and left outside a transaction."""
    if db.in_transaction:
        db.rollback()
    db.execute("BEGIN IMMEDIATE")
    try:
        blobs, work = prepare(db)
        if blobs:
            db.executemany(upsert, blobs)
        for sql, params in work:
            db.executemany(sql, params)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def sketch_merger(
    fold: Callable[[], tuple[FactRows, Work]],
    read: Callable[[sqlite3.Connection, list[SketchKey]], dict[SketchKey, bytes]] = sketches.sqlite_stored,
    written: dict[SketchKey, bytes] | None = None,
) -> Callable[[sqlite3.Connection], tuple[Sequence[tuple[Any, ...]], Work]]:
    """`prepare` for `run_transaction`: the fold, then the touched sketches read by key
    (`read`: by default one packed row back, not one per sketch) and merged with the new
    members and bins; the merged blobs also go into `written` when given."""

    def prepare(db: sqlite3.Connection) -> tuple[Sequence[tuple[Any, ...]], Work]:
        rows, work = fold()
        if not (rows.sketches or rows.durations):
            return [], work
        stored = read(db, sketches.touched(rows.sketches, rows.durations))
        merged = sketches.merged_rows(rows.sketches, rows.durations, stored, sort=False)
        if written is not None:
            written.update(((g, s, b, k), blob) for g, s, b, k, blob in merged)
        return merged, work

    return prepare
