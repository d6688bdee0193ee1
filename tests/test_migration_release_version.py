"""Migration 0005 back-fills `release_env.version` for series made before it, in batches,
on SQLite and PostgreSQL (fresh databases named after this test, never the shared one)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.schema import alembic_config, migrate
from tests.conftest import PG_ADMIN_URL, _require_postgres

#: `BATCH_SIZE` of the revision: the back-fill reads and updates this many rows a statement.
BATCH = 1000
#: Two full pages and a partial one.
ROWS = 2 * BATCH + 500


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'version.db'}"
        return
    _require_postgres()
    name = f"relhealth_version_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _release(i: int) -> str:
    """Every third series is a build of 1.<i % 7>.0, every third a package's, the rest plain
    names, so the back-fill meets each case on every page."""
    if i % 3 == 0:
        return f"1.{i % 7}.0+{i}"
    if i % 3 == 1:
        return f"pkg@1.{i % 7}.0+{i}"
    return f"name-{i}"


def _expected(i: int) -> str:
    return f"1.{i % 7}.0" if i % 3 != 2 else f"name-{i}"


def _v1_data(conn: Connection) -> None:
    """Rows as the code before revision 0005 wrote them."""
    conn.execute(text("INSERT INTO organization (id, slug, created_at) VALUES (1, 'acme', '2026-01-01')"))
    conn.execute(
        text("INSERT INTO project (id, org_id, slug, created_at) VALUES (1, 1, 'web', '2026-01-01')")
    )
    conn.execute(
        text(
            "INSERT INTO release_env (org_id, project_id, release, environment, env_key, first_seen)"
            " VALUES (1, 1, :r, 'production', '=production', 0)"
        ),
        [{"r": _release(i)} for i in range(ROWS)],
    )


async def test_backfill_in_batches(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0003"))
            await conn.run_sync(_v1_data)
        statements: list[tuple[str, bool]] = []

        def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
            statements.append((statement, many))

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            await migrate(engine)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)

        updates = [many for s, many in statements if s.startswith("UPDATE release_env")]
        pages = [s for s, _ in statements if s.startswith("SELECT id, release FROM release_env")]
        # One executemany per page of BATCH rows; the partial third page ends the loop.
        assert updates == [True, True, True]
        assert len(pages) == 3

        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT release, version FROM release_env ORDER BY id"))).all()
            nullable = await conn.run_sync(
                lambda c: {col["name"]: col["nullable"] for col in inspect(c).get_columns("release_env")}
            )
            indexes = await conn.run_sync(
                lambda c: {
                    ix["name"]: tuple(ix["column_names"]) for ix in inspect(c).get_indexes("release_env")
                }
            )
        assert rows == [(_release(i), _expected(i)) for i in range(ROWS)]
        assert nullable["version"] is False
        assert indexes["ix_release_env_project_version"] == ("project_id", "version")
        # SQLite rebuilt the table to make the column NOT NULL: its other index survived.
        assert indexes["ix_release_env_org_release"] == ("org_id", "release")
    finally:
        await engine.dispose()


async def test_empty_table_and_downgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)  # nothing to back-fill: no page beyond the first
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0003"))
            columns = await conn.run_sync(
                lambda c: [col["name"] for col in inspect(c).get_columns("release_env")]
            )
        assert "version" not in columns
        assert "release" in columns
    finally:
        await engine.dispose()
