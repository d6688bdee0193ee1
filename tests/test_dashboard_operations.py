"""The dashboard's operations (server/static/dashboard/operations.graphql) are registered
as persisted queries at startup, as `relhealth persisted-queries add --no-typename` would,
published with their hashes at /dashboard/operations.json, and answer the page's APQ GETs
by hash alone: in allowlist mode, without it, and with APQ off."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gql.operation_files import operations
from server.dashboard_operations import SOURCE, DashboardOperations
from server.settings import Settings
from storage.persisted_queries import load

FILE = Path(__file__).resolve().parent.parent / "server" / "static" / "dashboard" / "operations.graphql"


async def _app(make_app: Any, url: str, **settings: Any) -> tuple[Any, str]:
    app = await make_app(Settings(database_url=url, **settings))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])  # not admin
    r = await app.client.post("/auth/session", json={"token": token})
    app.client.cookies.clear()
    cookie = r.headers["set-cookie"].split(";")[0]
    return app, cookie


def _apq_get(name: str, digest: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    return {
        "operationName": name,
        "variables": json.dumps(variables or {}),
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}}),
    }


def test_the_file_holds_named_operations_that_validate():
    from graphql import parse, validate

    from gql.schema import build_schema

    ops = DashboardOperations.parse(FILE.read_text())
    assert ops.by_name, "no operation registered"
    expected = operations(FILE.read_text(), typename=False)
    assert sorted(ops.by_name) == sorted(op.name for op in expected if op.name)
    schema = build_schema()._schema
    for op in expected:
        assert validate(schema, parse(op.document)) == [], op.name


async def test_operations_json_publishes_hashes_of_the_registered_documents(make_app, sqlite_url):
    app, _ = await _app(make_app, sqlite_url)
    r = await app.client.get("/dashboard/operations.json")
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    published = r.json()
    assert set(published) == {op.name for op in operations(FILE.read_text(), typename=False)}
    for entry in published.values():
        assert entry["sha256Hash"] == hashlib.sha256(entry["query"].encode()).hexdigest()
        assert "__typename" not in entry["query"] or "__typename" in FILE.read_text()
    # The same rows `relhealth persisted-queries list` shows, from the same file.
    rows = {row.operation_name: row for row in await load(app.services.engine)}
    for name, entry in published.items():
        assert rows[name].sha256 == entry["sha256Hash"] and rows[name].document == entry["query"]
        assert rows[name].source == SOURCE


@pytest.mark.parametrize(
    "settings",
    [
        {"graphql_allowlist": True, "graphql_allowlist_refresh_seconds": 0},
        {"graphql_allowlist": False},
        {"graphql_allowlist": False, "graphql_apq": False},
    ],
    ids=["allowlist", "apq", "apq-off"],
)
async def test_every_operation_answers_by_hash(make_app, database_url, settings):
    app, cookie = await _app(make_app, database_url, **settings)
    published = (await app.client.get("/dashboard/operations.json")).json()
    for name, entry in published.items():
        r = await app.client.get(
            "/graphql", params=_apq_get(name, entry["sha256Hash"]), headers={"Cookie": cookie}
        )
        body = r.json()
        codes = [e.get("extensions", {}).get("code", "") for e in body.get("errors", [])]
        # Found and run: at worst refused for the variables this test does not send.
        assert not [c for c in codes if c.startswith("PERSISTED_QUERY")], (name, body)
    # An operation of the allowlist mode's own register, not the dashboard's, stays refused.
    if settings.get("graphql_allowlist"):
        other = hashlib.sha256(b"{ viewer { organization { id } } }").hexdigest()
        r = await app.client.get("/graphql", params=_apq_get("X", other), headers={"Cookie": cookie})
        assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_and_a_wrong_text_is_refused(make_app, sqlite_url):
    app, cookie = await _app(make_app, sqlite_url)
    published = (await app.client.get("/dashboard/operations.json")).json()
    name, entry = next(iter(published.items()))
    params = {**_apq_get(name, entry["sha256Hash"]), "query": "{ viewer { organization { slug } } }"}
    r = await app.client.get("/graphql", params=params, headers={"Cookie": cookie})
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


def test_a_broken_file_registers_nothing_and_says_so(caplog):
    with caplog.at_level(logging.ERROR, "relhealth.dashboard"):
        assert DashboardOperations.parse("query A { a ").by_name == {}
        assert DashboardOperations.parse("{ a }").by_name == {}  # anonymous
    assert len(caplog.records) == 2
    assert DashboardOperations.parse(None).published() == {}


async def test_registering_twice_adds_nothing(sqlite_url):
    from storage.engine import create_engine
    from storage.schema import ensure_schema

    engine = create_engine(sqlite_url)
    try:
        await ensure_schema(engine)
        ops = DashboardOperations.parse(
            "query A { viewer { organization { slug } } }\nquery B { viewer { scopes } }"
        )
        await ops.register(engine)
        await ops.register(engine)
        rows = await load(engine)
        assert [(r.operation_name, r.sha256) for r in rows] == [
            ("A", ops.by_name["A"].sha256),
            ("B", ops.by_name["B"].sha256),
        ]
    finally:
        await engine.dispose()
