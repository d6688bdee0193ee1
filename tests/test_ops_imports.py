"""Import ids belong to the organization that imports (or to the command line): the same
id in two organizations is two independent imports, and one organization learns nothing of
another's ids. Migration 0002 keeps the progress recorded before it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from jobs.importer import run_import
from server.settings import Settings
from storage.engine import create_engine
from storage.imports import SERVER_IMPORT_SCOPE, applied_ranges
from storage.schema import alembic_config, migrate
from tests.conftest import PG_ADMIN_URL, _require_postgres


def _line(org: str, project: str, sid: int) -> str:
    return json.dumps(
        {
            "type": "session",
            "org": org,
            "project": project,
            "sid": f"{sid:032x}",
            "init": True,
            "started": "2024-01-10T12:00:00Z",
            "status": "exited",
            "attrs": {"release": "app@1.0"},
        }
    )


async def test_same_import_id_in_two_organizations_is_two_imports(make_app, database_url):
    app = await make_app(Settings(database_url=database_url))
    acc = app.services.accounts
    await acc.create_project("acme", "web", 11)
    await acc.create_project("globex", "shop", 12)
    acme = await acc.create_token("acme", ["org:write"])
    globex = await acc.create_token("globex", ["org:write"])

    def post(org: str, token: str, body: str):  # type: ignore[no-untyped-def]
        return app.client.post(
            f"/api/0/organizations/{org}/sessions/import/?import_id=nightly",
            content=body,
            headers={"Authorization": f"Bearer {token}"},
        )

    acme_body = "\n".join(_line("acme", "web", i) for i in range(1, 4))
    globex_body = "\n".join(_line("globex", "shop", i) for i in range(1, 3))
    first = await post("acme", acme, acme_body)
    assert first.status_code == 200 and first.json()["accepted"] == 3
    # Globex uses the same name: its lines are applied, and its answer is exactly what a
    # never-used name gives (nothing skipped), so it cannot tell acme used the name.
    second = await post("globex", globex, globex_body)
    assert second.status_code == 200
    assert second.json() == {"import_id": "nightly", "lines": 2, "accepted": 2, "skipped": 0, "rejected": []}
    # Each organization's re-run is still idempotent within its own scope.
    again = await post("acme", acme, acme_body)
    assert (again.json()["accepted"], again.json()["skipped"]) == (0, 3)
    again = await post("globex", globex, globex_body)
    assert (again.json()["accepted"], again.json()["skipped"]) == (0, 2)

    engine = app.services.engine
    acme_id = await acc.organization_id("acme")
    globex_id = await acc.organization_id("globex")
    assert await applied_ranges(engine, acme_id, "nightly") == [(1, 3)]
    assert await applied_ranges(engine, globex_id, "nightly") == [(1, 2)]
    assert await applied_ranges(engine, SERVER_IMPORT_SCOPE, "nightly") == []


async def test_command_line_import_ids_are_separate_from_the_api(make_app, database_url):
    app = await make_app(Settings(database_url=database_url))
    s = app.services
    await s.accounts.create_project("acme", "web", 11)
    token = await s.accounts.create_token("acme", ["org:write"])
    lines = [_line("acme", "web", i).encode() for i in range(1, 3)]
    cli = await run_import(
        lines, import_id="shared", store=s.store, accounts=s.accounts, received_at=time.time()
    )
    assert (cli.accepted, cli.skipped) == (2, 0)
    api = await app.client.post(
        "/api/0/organizations/acme/sessions/import/?import_id=shared",
        content=b"\n".join([*lines, _line("acme", "web", 3).encode()]),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (api.json()["accepted"], api.json()["skipped"]) == (3, 0)


async def test_import_id_longer_than_the_column_is_a_400(make_app, database_url):
    app = await make_app(Settings(database_url=database_url))
    await app.services.accounts.create_project("acme", "web", 11)
    token = await app.services.accounts.create_token("acme", ["org:write"])
    r = await app.client.post(
        "/api/0/organizations/acme/sessions/import/?import_id=" + "x" * 129,
        content=_line("acme", "web", 1),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 400
    assert r.json() == {"detail": "import_id is longer than 128 characters"}


# -- migration 0002 keeps the progress recorded before it -----------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    from tests.test_migrations import _pg_admin

    created: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        _require_postgres()
        name = f"relhealth_ops_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql:", "postgresql+asyncpg:") + "/" + name

    yield make
    for name in created:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _at_0001_with_chunks(url: str, orgs: list[str]) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0001"))
        async with engine.begin() as conn:
            for slug in orgs:
                await conn.execute(
                    text("INSERT INTO organization (slug, created_at) VALUES (:s, CURRENT_TIMESTAMP)"),
                    {"s": slug},
                )
            await conn.execute(
                text(
                    "INSERT INTO import_chunk (import_id, first_line, last_line)"
                    " VALUES ('sha256:ab', 1, 10000), ('sha256:ab', 10001, 12000), ('mine', 1, 5)"
                )
            )
    finally:
        await engine.dispose()


async def _scopes(url: str) -> dict[int, list[tuple[str, int, int]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT org_id, import_id, first_line, last_line FROM import_chunk"
                        " ORDER BY org_id, import_id, first_line"
                    )
                )
            ).all()
            org_ids = {slug: i for i, slug in (await conn.execute(text("SELECT id, slug FROM organization")))}
    finally:
        await engine.dispose()
    out: dict[int, list[tuple[str, int, int]]] = {}
    for org_id, import_id, first, last in rows:
        out.setdefault(int(org_id), []).append((import_id, int(first), int(last)))
    out[-1] = [(slug, i, 0) for slug, i in sorted(org_ids.items())]
    return out


OLD_ROWS = [("mine", 1, 5), ("sha256:ab", 1, 10000), ("sha256:ab", 10001, 12000)]


async def test_migration_keeps_old_progress_for_the_command_line_and_a_sole_org(fresh_database):
    url = fresh_database()
    await _at_0001_with_chunks(url, ["acme"])
    await migrate(url)
    found = await _scopes(url)
    acme_id = found.pop(-1)[0][1]
    assert found == {SERVER_IMPORT_SCOPE: OLD_ROWS, acme_id: OLD_ROWS}


async def test_migration_with_several_orgs_keeps_old_progress_for_the_command_line(fresh_database):
    url = fresh_database()
    await _at_0001_with_chunks(url, ["acme", "globex"])
    await migrate(url)
    found = await _scopes(url)
    found.pop(-1)
    assert found == {SERVER_IMPORT_SCOPE: OLD_ROWS}
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "0001"))
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT import_id, first_line, last_line FROM import_chunk ORDER BY 1, 2")
                )
            ).all()
        assert [tuple(r) for r in rows] == OLD_ROWS
    finally:
        await engine.dispose()
