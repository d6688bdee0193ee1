"""Bulk upserts on PostgreSQL through COPY: rows into a temporary staging table by binary
COPY, then one `INSERT ... SELECT ... ON CONFLICT` into the fact table.

An alternative to the writer's executemany of `INSERT ... VALUES ... ON CONFLICT` (one
bound statement per row) for large groups of rows, such as a bulk-import chunk: its
counter rows (added on conflict) and the sketch rows its sketch merge produced (replaced
on conflict; the merge already holds the series' advisory locks and read the stored
blobs, in the same transaction, so COPY changes nothing of its safety). The upsert
is the writer's own statement (`storage.sql.write`), with its `VALUES (...)` replaced by a
SELECT from the staging table, so the two paths cannot differ in what they store. The
staging table is `ON COMMIT DELETE ROWS`: created once per connection, empty at the start
of every transaction. Rows must be unique per conflict key (the writer folds them so):
`ON CONFLICT DO UPDATE` refuses to touch one row twice in a statement.

Measured against executemany by `python -m bench.copy_bench` (BENCHMARKS.md, "Bulk import").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

#: Rows from which an upsert goes through COPY (below it, executemany: a COPY round trip
#: and the staging table cost more than they save on a handful of rows).
COPY_MIN_ROWS = 1000

_UPSERT = re.compile(
    r"^INSERT INTO (\w+) \(([^)]*)\) VALUES \([^)]*\)( ON CONFLICT \(([^)]*)\).*)$", re.DOTALL
)


def staged_upsert(upsert: str) -> tuple[str, list[str], str]:
    """`(table, columns, INSERT ... SELECT ... FROM stage ON CONFLICT ...)` for a writer
    upsert `INSERT INTO t (cols) VALUES (...) ON CONFLICT ...`."""
    m = _UPSERT.match(upsert)
    if m is None:
        raise ValueError(f"not an INSERT ... VALUES upsert: {upsert[:80]!r}")
    table, cols, tail, key = m[1], m[2], m[3], m[4]
    columns = [c.strip() for c in cols.split(",")]
    # In key order, as the writer's sorted rows: concurrent writers lock rows in one order.
    sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage_name(table)} ORDER BY {key}{tail}"
    return table, columns, sql


def stage_name(table: str) -> str:
    return f"stage_{table}"


async def copy_upsert(conn: AsyncConnection, upsert: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert `rows` with `upsert` (a writer statement) through the staging table, inside
    `conn`'s transaction (asyncpg).

    The statements go through SQLAlchemy, only the COPY through the driver: SQLAlchemy's
    asyncpg adapter opens its transaction (BEGIN) at its first statement, so a COPY sent
    to the driver before that would run, and commit, on its own."""
    table, columns, sql = staged_upsert(upsert)
    stage = stage_name(table)
    await conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    driver: Any = (await conn.get_raw_connection()).driver_connection
    await driver.copy_records_to_table(stage, records=rows, columns=columns)
    await conn.exec_driver_sql(sql)


async def execute_all(conn: AsyncConnection, work: Sequence[tuple[str, Sequence[tuple[Any, ...]]]]) -> None:
    """Run a write transaction's statements (`(sql, rows)`, executemany each) on `conn`;
    on PostgreSQL (asyncpg), upserts of at least `COPY_MIN_ROWS` rows go through COPY."""
    copying = conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg"
    for sql, params in work:
        if copying and len(params) >= COPY_MIN_ROWS and _UPSERT.match(sql):
            await copy_upsert(conn, sql, params)
        else:
            await conn.exec_driver_sql(sql, list(params))
