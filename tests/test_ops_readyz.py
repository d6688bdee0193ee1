"""`/readyz` answers 503 when the store cannot write, not only when it cannot be reached,
and 200 again once writes work."""

from __future__ import annotations

import time
import uuid

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from server.settings import Settings
from storage.engine import create_engine

SQLITE_BREAK = (
    "CREATE TRIGGER readyz_disk_full BEFORE INSERT ON ingest_outcome"
    " BEGIN SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END"
)


async def _sql(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def _pg(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_readyz_turns_503_while_writes_fail_and_recovers(make_app, database_url):
    admin = await make_app(Settings(database_url=database_url))  # creates the schema
    assert (await admin.client.get("/readyz")).status_code == 200

    if database_url.startswith("sqlite"):
        app = admin

        async def break_writes() -> None:
            await _sql(database_url, SQLITE_BREAK)

        async def repair_writes() -> None:
            await _sql(database_url, "DROP TRIGGER readyz_disk_full")

        role = None
    else:
        # The server connects as a role that can read everything; writes are revoked and
        # granted back while it runs (privileges are checked on every statement).
        role = f"relhealth_ro_{uuid.uuid4().hex[:8]}"
        await _pg(
            database_url,
            f"CREATE ROLE {role} LOGIN",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        )
        role_url = make_url(database_url).set(username=role).render_as_string(hide_password=False)
        app = await make_app(Settings(database_url=role_url))

        async def break_writes() -> None:
            await _pg(
                database_url, f"REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM {role}"
            )

        async def repair_writes() -> None:
            await _pg(database_url, f"GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")

    try:
        assert (await app.client.get("/readyz")).status_code == 200
        await break_writes()
        r = await app.client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "read-only"
        assert r.json()["detail"].startswith("the database refuses writes")
        # Reads still work: the liveness check and `SELECT 1` were never the problem.
        assert (await app.client.get("/healthz")).status_code == 200
        await repair_writes()
        r = await app.client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
    finally:
        if role is not None:
            await _pg(
                database_url,
                f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
                f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
            )

    # The probe never leaves a row behind.
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM ingest_outcome"))).scalar_one()
    finally:
        await engine.dispose()
    assert rows == 0

    if database_url.startswith("sqlite"):
        # A write lock held elsewhere means the file takes writes: still ready, answered
        # after the probe's short busy wait rather than ingest's 30 s.
        other = create_engine(database_url)
        try:
            async with other.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                started = time.monotonic()
                r = await app.client.get("/readyz")
                elapsed = time.monotonic() - started
                await conn.exec_driver_sql("ROLLBACK")
        finally:
            await other.dispose()
        assert r.status_code == 200
        assert elapsed < 15
