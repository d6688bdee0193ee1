"""Async engine construction; every dialect difference of connecting lives here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def normalize_url(url: str) -> str:
    """Accept the plain forms people type and pick the async driver."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", echo: bool = False, writer: bool = False
) -> AsyncEngine:
    """An engine for the queries, or with `writer` the small pool of the ingest writer:
    writes keep their own connections, so no read can starve them of one."""
    url = normalize_url(url)
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            # One connection per checkout keeps WAL readers independent of the writer; the
            # pool stays small because aiosqlite runs each connection in its own thread.
            pool_size=2 if writer else 8,
            max_overflow=2 if writer else 8,
            connect_args={"timeout": 30},
            # The writer's connections are not rolled back when returned to the pool:
            # every use ends its own transaction (`begin()` blocks, the group commit's
            # one thread call in `storage.sql.write`, the readiness probe's rollback),
            # and the pool's rollback was one more trip through aiosqlite's thread and
            # the busy event loop per group commit.
            pool_reset_on_return=None if writer else "rollback",
        )
        _install_sqlite_pragmas(engine, sqlite_synchronous)
        return engine
    if make_url(url).database == ":memory:":
        return create_async_engine(url, echo=echo, poolclass=NullPool)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=2 if writer else 10,
        max_overflow=2 if writer else 10,
        pool_pre_ping=True,
    )


def shares_one_database(url: str) -> bool:
    """An in-memory database exists once per connection: a second engine would see
    another database, so the writer must share the query engine."""
    return make_url(normalize_url(url)).database in (None, "", ":memory:")


#: The page size of a new SQLite database (SQLite's largest). Distinct-count sketches of
#: busy buckets run to kilobytes; in a WITHOUT ROWID table a row spills into overflow
#: pages past about a quarter of a page, and each spilled row wastes half a page on
#: average. On the medium benchmark the store after VACUUM is 170.8 MiB with 4 KiB pages,
#: 165.0 with 16 KiB, 151.7 with 32 KiB and 147.1 with 64 KiB (BENCHMARKS.md). It only
#: applies to a file with no tables yet: an existing database keeps its page size.
SQLITE_PAGE_SIZE = 65536


def _install_sqlite_pragmas(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        sqlite_pragmas(dbapi_connection, synchronous)


def sqlite_pragmas(connection: Any, synchronous: str) -> None:
    """The settings of every SQLite connection relhealth opens (a DB-API connection)."""
    # WAL: readers never block the writer and a killed process loses no committed
    # transaction. busy_timeout: several processes may write the same file.
    cursor = connection.cursor()
    # Before WAL: a database in WAL mode can no longer change its page size.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # 32 MiB of page cache per connection (grown only as used): SQLite's default of
    # 2 MiB holds just 31 pages of 64 KiB, fewer than a 90-day question seeks through.
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class StatementCounter:
    """Counts SQL statements sent to the database; batching tests use it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self.statements: list[str] = []
        self._engine = engine
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements.clear()

    def close(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._on_execute)
