"""Deleting stored buckets older than their retention (release-health.md 4.4).

`delete_expired` removes the fact rows of each stored granularity whose bucket start is
older than `now - retention[granularity]` (seconds; 0 keeps them forever), and the hourly
ingest outcome counters (`ingest.md` 15.1) older than the hourly retention, so they live
exactly as long as hourly data.

On PostgreSQL, fact tables partitioned by time (migration 0007, `storage.sql.partitions`)
lose whole expired partitions instead (DROP TABLE: no row deletes, no dead tuples, no
vacuum debt); only the partition straddling each cutoff, and the DEFAULT partitions,
have rows deleted, as below. The cleanup also creates the partitions ahead of time.

It deletes in bounded batches, each its own short transaction, and pauses between them: a
large backlog never holds SQLite's write lock (or many PostgreSQL row locks) for long, and
ingestion keeps committing in between. Each batch seeks on the primary key
(granularity, series, bucket) for a chunk of series, so it reads only expired rows.

Running it in every server process at once is harmless: a row is deleted once, and on
PostgreSQL a batch skips rows another transaction holds (`FOR UPDATE SKIP LOCKED`), so a
cleanup never waits for, or deadlocks with, a writer or another cleanup; skipped rows go
in a later run. Series rows (`release_env`) are kept: they record what was ever seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.sql import partitions
from storage.types import HOUR

#: The tables written today; v1's fact_user, fact_error and fact_duration are not (their data
#: moves into fact_sketch in a migration, which then drops them).
FACT_TABLES: tuple[str, ...] = ("fact_counter", "fact_sketch")
OUTCOME_TABLE = "ingest_outcome"
#: Rows per delete transaction.
BATCH_ROWS = 5000
#: Series (or projects) per statement.
KEY_CHUNK = 500


async def delete_expired(
    engine: AsyncEngine,
    *,
    now: float,
    retention: Mapping[int, int],
    batch_rows: int = BATCH_ROWS,
    pause: float = 0.005,
) -> dict[str, int]:
    """Delete expired rows; return the number deleted per table (every table is a key)."""
    deleted = dict.fromkeys((*FACT_TABLES, OUTCOME_TABLE), 0)
    cutoffs = {g: int(now) - keep for g, keep in sorted(retention.items()) if keep > 0}
    postgres = engine.dialect.name == "postgresql"
    if not cutoffs and not postgres:
        return deleted  # (PostgreSQL still creates partitions ahead)
    async with engine.connect() as conn:
        series = [int(i) for (i,) in await conn.execute(text("SELECT id FROM release_env ORDER BY id"))]
        projects = [int(i) for (i,) in await conn.execute(text("SELECT id FROM project ORDER BY id"))]
    condition = "granularity = :g AND series_id IN :ids AND bucket < :cutoff"
    for table in FACT_TABLES:
        targets: list[tuple[int, str]] = [(g, table) for g in cutoffs]
        if postgres:
            async with engine.connect() as conn:
                partitioned = await partitions.is_partitioned(conn, table)
            if partitioned:
                dropped, targets = await partitions.maintain(engine, table, now=now, retention=retention)
                deleted[table] += dropped
        for granularity, target in targets:
            stmt = _batch_delete(target, condition, postgres)
            cutoff = cutoffs[granularity]
            for ids in _chunks(series):
                try:
                    deleted[table] += await _delete_in_batches(
                        engine,
                        stmt,
                        {"g": granularity, "ids": ids, "cutoff": cutoff, "n": batch_rows},
                        batch_rows,
                        pause,
                    )
                except ProgrammingError:
                    if target == table:
                        raise
                    break  # a partition another process's cleanup dropped meanwhile
    if HOUR in cutoffs:
        stmt = _batch_delete(OUTCOME_TABLE, "project_id IN :ids AND hour < :cutoff", postgres)
        for ids in _chunks(projects):
            deleted[OUTCOME_TABLE] += await _delete_in_batches(
                engine,
                stmt,
                {"ids": ids, "cutoff": cutoffs[HOUR], "n": batch_rows},
                batch_rows,
                pause,
            )
    return deleted


def _batch_delete(table: str, condition: str, postgres: bool) -> Any:
    if postgres:
        sql = (
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table} WHERE {condition} LIMIT :n FOR UPDATE SKIP LOCKED))"
        )
    else:
        # The fact tables are WITHOUT ROWID on SQLite: select the batch by primary key.
        key = ", ".join(c.name for c in SQLModel.metadata.tables[table].primary_key.columns)
        sql = f"DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {condition} LIMIT :n)"
    return text(sql).bindparams(bindparam("ids", expanding=True))


async def _delete_in_batches(
    engine: AsyncEngine, stmt: Any, params: dict[str, Any], batch_rows: int, pause: float
) -> int:
    total = 0
    while True:
        async with engine.begin() as conn:
            n = (await conn.execute(stmt, params)).rowcount
        total += n
        if n < batch_rows:
            return total
        await asyncio.sleep(pause)


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + KEY_CHUNK]) for i in range(0, len(ids), KEY_CHUNK)]
