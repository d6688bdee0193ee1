"""Progress of bulk imports: which line ranges of an import are already applied.

A chunk of lines is recorded in the same transaction that applies it
(`SessionStore.apply(..., import_chunk=...)`), so a re-run or a
resumed import skips exactly what was committed: nothing is counted twice, nothing lost.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import IMPORT_CHUNK


async def applied_ranges(engine: AsyncEngine, import_id: str) -> list[tuple[int, int]]:
    t = IMPORT_CHUNK
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.first_line, t.c.last_line).where(t.c.import_id == import_id)
        )
        return sorted((int(f), int(last)) for f, last in rows)
