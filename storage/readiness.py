"""Whether the store can take writes, for `/readyz`.

Reaching the database is not enough: a read-only SQLite file, a full disk that makes
every statement fail, a PostgreSQL role without INSERT rights, or a hot standby all answer
`SELECT 1` while every ingest request fails. The probe inserts one row into
`ingest_outcome` (the table every ingest write touches) inside a transaction it always
rolls back: nothing is ever stored, and the database checks exactly what a write needs
(permissions, read-only state, locks). One short transaction per call, cheap enough to be
polled every few seconds.

A SQLite write lock held by someone else is not a failure: someone is writing, so the file
takes writes; the probe waits at most `SQLITE_PROBE_BUSY_MS` for it instead of the
30 s busy timeout ingest uses.
"""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

#: How long the probe waits for another SQLite writer before calling the file writable.
SQLITE_PROBE_BUSY_MS = 1000
#: The busy timeout the store's connections use (`storage.engine`), restored afterwards.
SQLITE_BUSY_MS = 30000

_PROBE = text(
    "INSERT INTO ingest_outcome (project_id, hour, item_type, kind, reason, count)"
    " VALUES (:project_id, 0, 'readyz', 'probe', 'readyz', 0)"
)


async def check_writable(engine: AsyncEngine) -> None:
    """Return if a write would succeed; raise the database's error otherwise."""
    sqlite = engine.dialect.name == "sqlite"
    # A negative project id never exists, and a random one keeps concurrent probes (other
    # workers) from waiting on each other's uncommitted key.
    params = {"project_id": -1 - secrets.randbelow(2**31 - 2)}
    async with engine.connect() as conn:
        try:
            if sqlite:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_PROBE_BUSY_MS}")
            await conn.execute(_PROBE, params)
        except OperationalError as exc:
            if not (sqlite and "database is locked" in str(exc)):
                raise
        finally:
            await conn.rollback()  # the probe row is never committed
            if sqlite:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
