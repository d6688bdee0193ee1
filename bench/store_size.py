"""How big the store is: bytes on disk per million sessions, in total and by table.

SQLite: the database is copied with `VACUUM INTO` (a compacted copy, as after `VACUUM`,
without touching the cached dataset), measured, and deleted; per-table sizes come from
the `dbstat` virtual table of the copy (indexes count under their own names).
PostgreSQL: `pg_database_size` and `pg_total_relation_size` per table after the dataset
load's `VACUUM (ANALYZE)`; not compacted, so it includes free space in pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

MIB = 2**20


def per_million(size_bytes: int, sessions: int) -> float:
    """MiB per million sessions (0 for an empty dataset)."""
    if sessions <= 0:
        return 0.0
    return round(size_bytes / MIB / (sessions / 1e6), 2)


def sqlite_sizes(path: Path, scratch: Path) -> dict[str, Any]:
    """Bytes of the vacuumed copy of the SQLite file at `path`, and bytes per table."""
    copy = scratch / f"{path.stem}.vacuumed.db"
    copy.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(path)
        try:
            src.execute("VACUUM INTO ?", (str(copy),))
        finally:
            src.close()
        total = copy.stat().st_size
        tables: dict[str, int] = {}
        conn = sqlite3.connect(copy)
        try:
            # dbstat is compiled into Python's SQLite on the usual builds; without it the
            # total is still reported.
            with contextlib.suppress(sqlite3.OperationalError):
                rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
                tables = {str(n): int(b) for n, b in rows}
        finally:
            conn.close()
    finally:
        copy.unlink(missing_ok=True)
    return {"bytes": total, "tables": tables, "method": "VACUUM INTO a copy; dbstat"}


async def postgres_sizes(dsn: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        total = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        rows = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
        )
    finally:
        await conn.close()
    return {
        "bytes": total,
        "tables": {str(r[0]): int(r[1]) for r in rows},
        "method": "pg_database_size after VACUUM (ANALYZE)",
    }


async def store_size(database_url: str, sessions: int, scratch: Path) -> dict[str, Any]:
    """The store's size for the report: total and per table, in MiB and per million sessions."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split(":///", 1)[1])
        sizes = await asyncio.to_thread(sqlite_sizes, path, scratch)
    else:
        sizes = await postgres_sizes(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    tables = dict(sorted(sizes["tables"].items(), key=lambda kv: -kv[1]))
    return {
        "method": sizes["method"],
        "mib": round(sizes["bytes"] / MIB, 1),
        "mib_per_million_sessions": per_million(sizes["bytes"], sessions),
        "tables_mib": {name: round(b / MIB, 2) for name, b in tables.items() if b >= MIB // 100},
    }
