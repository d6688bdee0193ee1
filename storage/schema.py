"""Creating, migrating and checking the database schema (Alembic).

The schema is created and changed only by the Alembic revisions in `storage/migrations`
(shipped inside the package; configured here in code, no alembic.ini). The server calls
`ensure_schema` at startup:

- ``empty`` (none of relhealth's tables and no `alembic_version` row): run the
  migrations, so a fresh database is created by the same revisions as everything else;
- ``current`` (the `alembic_version` row is the head revision): nothing to do;
- ``behind`` (an older known revision, or relhealth tables without a version row):
  refuse, naming ``relhealth migrate``;
- ``ahead`` (a revision this code does not know, i.e. written by a newer relhealth): refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.engine import create_engine

#: The Alembic script directory (env.py, script.py.mako, versions/).
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

SchemaState = Literal["empty", "current", "behind", "ahead"]

#: Key of the PostgreSQL advisory lock that serializes concurrent migrations.
_PG_MIGRATION_LOCK = 0x72656C6865616C  # "relheal"


class SchemaError(RuntimeError):
    """The database schema cannot be used (or migrated) by this version of relhealth."""


class SchemaBehindError(SchemaError):
    """The database schema is older than the code: `relhealth migrate` fixes it."""


class SchemaAheadError(SchemaError):
    """The database schema is newer than the code (migrated by a newer relhealth)."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    state: SchemaState
    #: Revisions in `alembic_version` (empty when there is no version row).
    current: tuple[str, ...]
    #: The head revision this code expects.
    head: str


# -- Alembic configuration -------------------------------------------------------------


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code; `connection` is handed to env.py."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def _script_directory(location: str) -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", location)
    cfg.set_main_option("path_separator", "os")
    return ScriptDirectory.from_config(cfg)


def _script() -> ScriptDirectory:
    return _script_directory(str(MIGRATIONS_DIR))


def head_revision() -> str:
    """The revision the code expects (the single head of the migration history)."""
    heads = _script().get_heads()
    if len(heads) != 1:
        raise SchemaError(f"the migration history has {len(heads)} heads ({', '.join(heads)}); merge them")
    return heads[0]


# -- state -------------------------------------------------------------------------------


def _status(conn: Connection) -> SchemaStatus:
    head = head_revision()
    current = tuple(MigrationContext.configure(conn).get_current_heads())
    if not current:
        ours = set(SQLModel.metadata.tables)
        present = ours & set(inspect(conn).get_table_names())
        return SchemaStatus("behind" if present else "empty", current, head)
    if current == (head,):
        return SchemaStatus("current", current, head)
    known = {script.revision for script in _script().walk_revisions()}
    return SchemaStatus("behind" if set(current) <= known else "ahead", current, head)


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as conn:
        return await conn.run_sync(_status)


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Compare the database's `alembic_version` with the code's head revision."""
    return (await schema_status(engine)).state


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision (None when it has no version row)."""
    status = await schema_status(engine)
    return ", ".join(status.current) or None


# -- migrating ------------------------------------------------------------------------


async def migrate(engine_or_url: AsyncEngine | str) -> None:
    """Upgrade the database to the head revision (idempotent), in one transaction where the
    dialect has transactional DDL (PostgreSQL); concurrent callers are serialized."""
    if isinstance(engine_or_url, str):
        engine = create_engine(engine_or_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()
        return
    async with engine_or_url.begin() as conn:
        await conn.run_sync(_upgrade, safe_url(engine_or_url))


def _locked_status(conn: Connection) -> SchemaStatus:
    """The schema status, read while holding the migration lock (PostgreSQL; SQLite
    callers hold `_sqlite_file_lock`) until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    return _status(conn)


def _upgrade(conn: Connection, url: str) -> None:
    status = _locked_status(conn)
    if status.state == "ahead":
        raise SchemaAheadError(_ahead_message(status))
    cfg = alembic_config(conn)
    if status.state == "behind" and not status.current:
        _adopt_unversioned(conn, cfg)
    command.upgrade(cfg, "head")


def _adopt_unversioned(conn: Connection, cfg: Config) -> None:
    """Relhealth tables without migration history (created by `create_all`, before the
    store used migrations): stamp them with the head revision when they match the models
    exactly (the models always equal the head revision); otherwise refuse."""
    ours = set(SQLModel.metadata.tables)
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    diffs = [
        d
        for d in compare_metadata(context, SQLModel.metadata)
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name not in ours)
    ]
    if diffs:
        raise SchemaError(
            "the database has relhealth tables but no migration history, and they differ "
            f"from this version's schema ({len(diffs)} differences, first: {diffs[0]!r}); "
            "it cannot be migrated automatically: recreate it, or stamp its revision with alembic"
        )
    command.stamp(cfg, "head")


@contextlib.asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Serialize schema checks of processes starting together on one SQLite file: its DDL
    is not one transaction, so a second process could see the first one's tables before
    its version row. The lock is taken on the database's directory: opening and closing
    the database file itself would drop the POSIX locks SQLite holds on it in this process."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    directory = os.open(PurePath(path).parent, os.O_RDONLY)
    try:
        await asyncio.to_thread(fcntl.flock, directory, fcntl.LOCK_EX)
        yield
    finally:
        os.close(directory)  # releases the flock


async def ensure_schema(engine: AsyncEngine) -> None:
    """At server start: create an empty database through the migrations; refuse a schema
    that is behind or ahead of the code."""
    async with _sqlite_file_lock(engine):
        await _ensure_schema(engine)


async def _ensure_schema(engine: AsyncEngine) -> None:
    # Under the migration lock: a server starting while another one migrates waits for
    # that migration's commit instead of catching the catalogue half-read between two
    # statements (tables visible, version row not yet: "behind, revision none").
    async with engine.begin() as conn:
        status = await conn.run_sync(_locked_status)
    if status.state == "empty":
        await migrate(engine)
    elif status.state == "behind":
        raise SchemaBehindError(
            f"the database schema is behind (revision {_revs(status.current)}, code expects "
            f'{status.head}): run "relhealth migrate --database-url {safe_url(engine)}" first'
        )
    elif status.state == "ahead":
        raise SchemaAheadError(_ahead_message(status))


def _ahead_message(status: SchemaStatus) -> str:
    return (
        f"the database schema is ahead of this relhealth (revision {_revs(status.current)}, "
        f"code expects {status.head}): it was migrated by a newer relhealth version; "
        "run that version (or downgrade the database with it) instead"
    )


def _revs(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "none"


_SECRET_QUERY_KEYS = ("password", "passwd", "secret", "token")


def safe_url(engine_or_url: AsyncEngine | str) -> str:
    """The database URL with its password (and secret-looking query values) masked."""
    url = make_url(engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url)
    masked = {
        key: "***" if any(s in key.lower() for s in _SECRET_QUERY_KEYS) else value
        for key, value in url.query.items()
    }
    return url.set(query=masked).render_as_string(hide_password=True)


# -- tests only --------------------------------------------------------------------------


async def create_all(engine: AsyncEngine) -> None:
    """Create every missing table straight from the models, without migration history.

    Only for tests that build a throwaway store; a database made this way is refused by
    the server until `relhealth migrate` adopts it."""
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)


async def drop_all(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
