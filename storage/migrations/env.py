"""Alembic environment of the relhealth store.

Configured in code: `storage.schema` builds the `alembic.config.Config` (no alembic.ini at
runtime) and hands over an open connection in `config.attributes["connection"]`, on which
the migrations run (inside `AsyncConnection.run_sync`). Run by the `alembic` command
instead (developers: `alembic -c storage/migrations/alembic.ini ...`), it opens its own
async engine on `sqlalchemy.url`, else `RELHEALTH_DATABASE_URL`, else the default SQLite
file.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.engine import create_engine

config = context.config
target_metadata = SQLModel.metadata

DEFAULT_URL = "sqlite+aiosqlite:///relhealth.db"


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render SQLModel's column types as the plain SQLAlchemy types they store as, so that
    revisions never import sqlmodel (a revision must not change when the models do)."""
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Batch operations rebuild the table on SQLite (which cannot ALTER most things) and
        # are plain ALTERs on PostgreSQL, so one revision serves both dialects.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )


def run_on_connection(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(run_on_connection)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("RELHEALTH_DATABASE_URL", DEFAULT_URL)
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        run_on_connection(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("RELHEALTH_DATABASE_URL", DEFAULT_URL)
    asyncio.run(_run_with_own_engine(url))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
