"""SQLite connections: a new database gets the store's page size; an existing one keeps its
own and still works."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.engine import SQLITE_PAGE_SIZE, create_engine
from storage.schema import migrate


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


async def test_a_new_database_gets_the_large_page_size(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    assert SQLITE_PAGE_SIZE == 65536
    assert _page_size(path) == SQLITE_PAGE_SIZE


async def test_an_existing_database_keeps_its_page_size(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE before_us (x INTEGER)")
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    assert _page_size(path) == 4096
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM fact_sketch").fetchone()[0] == 0
