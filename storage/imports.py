"""Progress of bulk imports: which line ranges of an import are already applied.

A chunk of lines is recorded in the same transaction that applies it, so a re-run or a
resumed import skips exactly what was committed: nothing is counted twice, nothing lost.
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import ImportChunk

_RECORD = text(
    "INSERT INTO import_chunk (import_id, first_line, last_line) VALUES (:i, :f, :l)"
)


async def applied_ranges(engine: AsyncEngine, import_id: str) -> list[tuple[int, int]]:
    t = ImportChunk.__table__  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.first_line, t.c.last_line).where(t.c.import_id == import_id)
        )
        return sorted((int(f), int(last)) for f, last in rows)


def chunk_recorder(import_id: str, first_line: int, last_line: int):  # type: ignore[no-untyped-def]
    """A callback for `SessionStore.apply(..., extra=...)`. A plain INSERT: a concurrent
    run of the same import that applied this chunk first makes this transaction fail and
    roll back, instead of counting the chunk twice."""

    async def record(conn: AsyncConnection) -> None:
        await conn.execute(_RECORD, {"i": import_id, "f": first_line, "l": last_line})

    return record
