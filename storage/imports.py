"""Progress of bulk imports: which line ranges of an import are already applied.

A chunk of lines is recorded in the same transaction that applies it
(`SessionStore.apply(..., import_chunk=...)`), so a re-run or a
resumed import skips exactly what was committed: nothing is counted twice, nothing lost.

An import is named by its scope and its id: the organization that imports through the API
(its id), or `SERVER_IMPORT_SCOPE` for the command line. Progress is only ever read within
one scope, so one organization's import ids are invisible to every other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import IMPORT_CHUNK, SERVER_IMPORT_SCOPE

__all__ = ["SERVER_IMPORT_SCOPE", "applied_ranges"]


async def applied_ranges(engine: AsyncEngine, scope: int, import_id: str) -> list[tuple[int, int]]:
    """The committed `(first line, last line)` ranges of import `import_id` of `scope`."""
    t = IMPORT_CHUNK
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.first_line, t.c.last_line).where(t.c.org_id == scope, t.c.import_id == import_id)
        )
        return sorted((int(f), int(last)) for f, last in rows)
