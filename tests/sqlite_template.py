"""An empty SQLite database at the head revision, migrated once per test process and
copied for each test that wants one: the copy takes a millisecond, the migrations a
noticeable fraction of a second."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from storage.schema import migrate

_template: list[Path] = []


async def migrated_sqlite_url(directory: Path, name: str = "relhealth.db") -> str:
    """The URL of a fresh migrated database file `name` in `directory`."""
    if not _template:
        where = Path(tempfile.mkdtemp(prefix="relhealth-test-template-"))
        atexit.register(shutil.rmtree, where, True)
        path = where / "template.db"
        await migrate(f"sqlite+aiosqlite:///{path}")  # disposes its engine: no WAL left over
        _template.append(path)
    target = directory / name
    shutil.copyfile(_template[0], target)
    return f"sqlite+aiosqlite:///{target}"
