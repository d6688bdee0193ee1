"""The schema comes from the Alembic migrations: they agree with the models, create an
empty database, and a database whose schema is behind is refused until `relhealth migrate`.

Every test here gets fresh databases (a new SQLite file, or a new PostgreSQL database
created and dropped here), never the shared truncated test database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.schema as schema
from cli.main import main
from server.app import build_services
from server.settings import Settings
from storage.engine import create_engine
from storage.schema import (
    SchemaAheadError,
    SchemaBehindError,
    alembic_config,
    create_all,
    current_revision,
    ensure_schema,
    head_revision,
    migrate,
    safe_url,
    schema_state,
)
from tests.conftest import PG_ADMIN_URL, _require_postgres

ROOT = Path(__file__).resolve().parents[1]

FreshUrl = Callable[[], str]


def _pg_admin(sql: str) -> None:
    """Run one statement on the admin database (from sync or async tests alike)."""
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
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshUrl]:
    """`fresh_url()` returns the URL of a new, empty database of the test's backend."""
    created: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'fresh_{uuid.uuid4().hex[:8]}.db'}"
        _require_postgres()
        name = f"relhealth_mig_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"

    yield make
    for name in created:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _on(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _version_rows(conn: Connection) -> list[str]:
    return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


def _describe(conn: Connection) -> dict[str, Any]:
    """Everything the database says about relhealth's tables, comparable across databases."""
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        out[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in insp.get_columns(table)
            ],
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                for fk in insp.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), bool(ix["unique"])) for ix in insp.get_indexes(table)
            ),
            "uniques": sorted(
                (str(u["name"]), tuple(u["column_names"])) for u in insp.get_unique_constraints(table)
            ),
        }
    return out


# -- (a) models and migrations agree --------------------------------------------------------


async def test_models_and_migrations_agree(fresh_url: FreshUrl) -> None:
    url = fresh_url()
    await migrate(url)
    assert await _on(url, _differences) == []


async def test_migrated_schema_is_what_the_models_create(fresh_url: FreshUrl) -> None:
    """Stricter than autogenerate's comparison: names of indexes and constraints, defaults
    (SERIAL on PostgreSQL) and column types equal those `create_all` produces."""
    migrated, direct = fresh_url(), fresh_url()
    await migrate(migrated)
    engine = create_engine(direct)
    try:
        await create_all(engine)
    finally:
        await engine.dispose()
    by_migrations = await _on(migrated, _describe)
    by_models = await _on(direct, _describe)
    assert set(by_migrations) == set(SQLModel.metadata.tables)
    assert by_migrations == by_models


async def test_downgrade_to_base_removes_everything(fresh_url: FreshUrl) -> None:
    url = fresh_url()
    await migrate(url)
    await _on(url, lambda conn: command.downgrade(alembic_config(conn), "base"))
    tables = await _on(url, lambda conn: set(inspect(conn).get_table_names()))
    assert tables <= {"alembic_version"}
    engine = create_engine(url)
    try:
        assert await schema_state(engine) == "empty"
        await migrate(engine)
        assert await schema_state(engine) == "current"
    finally:
        await engine.dispose()


# -- (b) an empty database is created by the migrations -------------------------------------


async def test_empty_database_is_created_through_the_migrations(fresh_url: FreshUrl) -> None:
    url = fresh_url()
    engine = create_engine(url)
    try:
        assert await schema_state(engine) == "empty"
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()
    services = await build_services(Settings(database_url=url))
    try:
        assert await schema_state(services.engine) == "current"
        assert await current_revision(services.engine) == head_revision()
    finally:
        await services.engine.dispose()
    assert await _on(url, _version_rows) == [head_revision()]
    assert await _on(url, _differences) == []


# -- (c) a schema behind the code is refused until `relhealth migrate` ----------------------

PROBE_REVISION = '''"""throwaway revision of tests/test_migrations.py"""

import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("migration_probe", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("migration_probe")
'''


@pytest.fixture
def newer_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """`newer_code()` makes the code expect one more revision (9001, adding a table) than
    the real migration history has, as after upgrading relhealth."""

    def apply() -> None:
        scripts = tmp_path / "migrations"
        shutil.copytree(schema.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
        (scripts / "versions" / "9001_probe.py").write_text(PROBE_REVISION.format(down=head_revision()))
        monkeypatch.setattr(schema, "MIGRATIONS_DIR", scripts)

    return apply


def _state(url: str) -> str:
    async def run() -> str:
        engine = create_engine(url)
        try:
            return await schema_state(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_schema_behind_is_refused_until_migrate(
    fresh_url: FreshUrl,
    newer_code: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import uvicorn

    url = fresh_url()
    asyncio.run(migrate(url))
    old_head = head_revision()
    newer_code()
    assert head_revision() == "9001"
    assert _state(url) == "behind"

    # build_services refuses, naming the command and both revisions.
    with pytest.raises(SchemaBehindError) as refused:
        asyncio.run(build_services(Settings(database_url=url)))
    message = str(refused.value)
    assert f"revision {old_head}, code expects 9001" in message
    assert f'run "relhealth migrate --database-url {url}" first' in message

    # `relhealth serve` exits with status 1 and the message, without starting uvicorn.
    monkeypatch.setenv("RELHEALTH_DATABASE_URL", url)  # restored after the test
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    assert main(["serve", "--database-url", url, "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "schema is behind" in err and "relhealth migrate" in err and "Traceback" not in err

    # Other commands that open the store exit with the message too.
    with pytest.raises(SystemExit) as exited:
        main(["projects", "create", "acme", "web", "--database-url", url])
    assert "relhealth migrate" in str(exited.value.code)

    # `relhealth migrate` brings it to the code's head and prints both revisions.
    assert main(["migrate", "--database-url", url]) == 0
    assert f"from revision {old_head} to 9001" in capsys.readouterr().out
    assert _state(url) == "current"
    assert "migration_probe" in asyncio.run(_on(url, lambda conn: inspect(conn).get_table_names()))

    # (d) and again: nothing to do.
    assert main(["migrate", "--database-url", url]) == 0
    assert "up to date at revision 9001" in capsys.readouterr().out

    async def start() -> None:
        services = await build_services(Settings(database_url=url))
        await services.engine.dispose()

    asyncio.run(start())


def test_schema_ahead_is_refused(
    fresh_url: FreshUrl,
    newer_code: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = fresh_url()
    real_dir = schema.MIGRATIONS_DIR
    newer_code()
    asyncio.run(migrate(url))  # a newer relhealth migrated the database to 9001
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", real_dir)  # ...and this one is older
    assert _state(url) == "ahead"
    with pytest.raises(
        SchemaAheadError, match=rf"revision 9001, code expects {head_revision()}.*newer relhealth"
    ):
        asyncio.run(build_services(Settings(database_url=url)))
    assert main(["migrate", "--database-url", url]) == 1
    assert "ahead" in capsys.readouterr().err
    assert _state(url) == "ahead"


# -- (d) `relhealth migrate` is idempotent -------------------------------------------------


def _relhealth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_command_is_idempotent(fresh_url: FreshUrl, capsys: pytest.CaptureFixture[str]) -> None:
    url = fresh_url()
    assert main(["migrate", "--database-url", url]) == 0
    assert f"from revision none to {head_revision()}" in capsys.readouterr().out
    for _ in range(2):
        assert main(["migrate", "--database-url", url]) == 0
        assert f"up to date at revision {head_revision()}" in capsys.readouterr().out
    assert asyncio.run(_on(url, _version_rows)) == [head_revision()]
    assert asyncio.run(_on(url, _differences)) == []


async def test_concurrent_migrations_serialize(fresh_url: FreshUrl) -> None:
    url = fresh_url()
    engines = [create_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(ensure_schema(e) for e in engines))
        assert await schema_state(engines[0]) == "current"
    finally:
        for e in engines:
            await e.dispose()
    assert await _on(url, _version_rows) == [head_revision()]


# -- databases created before migrations existed -------------------------------------------


def test_unversioned_database_is_adopted_by_migrate(fresh_url: FreshUrl) -> None:
    url = fresh_url()

    async def legacy() -> None:
        engine = create_engine(url)
        try:
            await create_all(engine)
        finally:
            await engine.dispose()

    asyncio.run(legacy())
    assert _state(url) == "behind"
    refused = _relhealth("serve", "--database-url", url, "--port", "1")
    assert refused.returncode == 1
    assert "schema is behind (revision none" in refused.stderr
    assert "relhealth migrate --database-url" in refused.stderr
    assert "Traceback" not in refused.stderr
    adopted = _relhealth("migrate", "--database-url", url)
    assert adopted.returncode == 0, adopted.stderr
    assert f"from revision none to {head_revision()}" in adopted.stdout
    assert _state(url) == "current"
    assert asyncio.run(_on(url, _differences)) == []


def test_unversioned_database_that_differs_is_not_stamped(
    fresh_url: FreshUrl, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_url()

    async def legacy() -> None:
        engine = create_engine(url)
        try:
            await create_all(engine)
            async with engine.begin() as conn:
                await conn.execute(text("DROP INDEX ix_release_env_org_release"))
        finally:
            await engine.dispose()

    asyncio.run(legacy())
    assert main(["migrate", "--database-url", url]) == 1
    assert "cannot be migrated automatically" in capsys.readouterr().err
    assert _state(url) == "behind"


def test_messages_never_show_the_password() -> None:
    shown = safe_url("postgresql+asyncpg://app:hunter2@db.internal:5432/rh?sslmode=require&password=x2")
    assert "hunter2" not in shown and "x2" not in shown
    assert shown.startswith("postgresql+asyncpg://app:***@db.internal:5432/rh")
    assert "sslmode=require" in shown


def test_processes_starting_together_on_one_empty_sqlite_file(tmp_path):
    """Three processes run the start-up schema check on the same new SQLite file at once:
    one creates it through the migrations, the others wait and find it current."""
    import subprocess
    import sys

    db = tmp_path / "shared.db"
    script = (
        "import asyncio, sys\n"
        "from storage.engine import create_engine\n"
        "from storage.schema import ensure_schema\n"
        "async def main():\n"
        f"    e = create_engine('sqlite+aiosqlite:///{db}')\n"
        "    await ensure_schema(e)\n"
        "    await e.dispose()\n"
        "asyncio.run(main())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True) for _ in range(3)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0], results
