"""Allowlist mode: `relhealth persisted-queries add|list|remove` registers operations of
`.graphql` files in the `persisted_query` table (SQLite and PostgreSQL), and /graphql/v1
then runs only those for every token but an org:admin one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from gql.operation_files import OperationFileError, add_typename, operations
from gql.persisted import sha256_hex
from server.dashboard_operations import SOURCE as DASHBOARD_SOURCE
from tests.backend_support import Backend, backend

FILE = """
query Org($slug: String!) { organization(slug: $slug) { ...OrgFields } }
fragment OrgFields on Organization { slug projects { id } }
fragment Unused on Project { slug }
query Slug { organization(slug: "acme") { slug } }
"""


def _pq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def _post(b: Backend, body: Any, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token or b.token}"}
    return (await b.app.client.post("/graphql/v1", json=body, headers=headers)).json()


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The command's exit code and output; the dashboard's own operations, which every
    server registers at startup, are left out of `list`."""
    code = await asyncio.to_thread(main, list(argv))
    out = capsys.readouterr().out
    if "list" in argv:
        out = "".join(line for line in out.splitlines(keepends=True) if DASHBOARD_SOURCE not in line)
    return code, out


def test_each_operation_is_its_document_with_the_fragments_it_uses():
    org, slug = operations(FILE)
    assert (org.name, slug.name) == ("Org", "Slug")
    assert org.document.startswith("query Org($slug: String!) {")
    assert "fragment OrgFields on Organization {" in org.document and "Unused" not in org.document
    assert "fragment" not in slug.document
    # Apollo's cache adds __typename everywhere but an operation's own selection set.
    assert org.document.count("__typename") == 3
    assert slug.document == 'query Slug {\n  organization(slug: "acme") {\n    slug\n    __typename\n  }\n}'
    assert slug.sha256 == sha256_hex(slug.document)
    plain = operations(FILE, typename=False)
    assert "__typename" not in plain[0].document
    # Introspection-like selections and @export-ed ones keep theirs.
    kept = operations('{ a { __typename b } c @export(as: "x") { d } }')[0]
    assert kept.document.count("__typename") == 1
    # Client-only directives are removed as Apollo removes them; @client fields refused.
    assert "@connection" not in operations('{ a @connection(key: "k") { b } }')[0].document
    with pytest.raises(OperationFileError):
        operations("{ a @client }")
    for bad in ("fragment F on A { b }", "{ a } query B { b }", "{ a ", "{ ...Missing }"):
        with pytest.raises(OperationFileError):
            operations(bad)
    assert add_typename  # (exported for callers that hash documents themselves)


async def test_allowlist_runs_only_registered_operations(make_app, database_url, tmp_path, capsys):
    b = await backend(make_app, database_url, graphql_allowlist=True, graphql_allowlist_refresh_seconds=0)
    path = tmp_path / "ops.graphql"
    path.write_text(FILE)
    org, slug = operations(FILE)

    # Nothing registered yet: everything is refused.
    assert _code(await _post(b, {"extensions": _pq(slug.sha256)})) == "PERSISTED_QUERY_NOT_FOUND"
    refused = await _post(b, {"query": slug.document, "extensions": _pq(slug.sha256)})
    assert _code(refused) == "PERSISTED_QUERY_NOT_ALLOWED"  # no APQ registration
    assert _code(await _post(b, {"query": slug.document})) == "PERSISTED_QUERY_NOT_ALLOWED"

    code, out = await _cli(capsys, "persisted-queries", "add", str(path), "--database-url", database_url)
    assert code == 0
    assert f"{org.sha256}  Org" in out and f"{slug.sha256}  Slug" in out
    code, _ = await _cli(capsys, "persisted-queries", "add", str(path), "--database-url", database_url)
    assert code == 0  # registering again is harmless
    code, out = await _cli(capsys, "persisted-queries", "list", "--database-url", database_url)
    assert code == 0 and len(out.splitlines()) == 2

    expected = {"organization": {"slug": "acme", "__typename": "Organization"}}
    assert (await _post(b, {"extensions": _pq(slug.sha256)}))["data"] == expected
    assert (await _post(b, {"query": slug.document}))["data"] == expected  # the exact text
    assert (await _post(b, {"query": slug.document, "extensions": _pq(slug.sha256)}))["data"] == expected
    body = await _post(b, {"extensions": _pq(org.sha256), "variables": {"slug": "acme"}})
    assert body["data"]["organization"]["projects"][0] == {"id": "1", "__typename": "Project"}
    # Free-form text, even equivalent, is not the registered document.
    assert _code(await _post(b, {"query": '{ organization(slug: "acme") { slug } }'})) == (
        "PERSISTED_QUERY_NOT_ALLOWED"
    )
    mismatch = await _post(b, {"query": org.document, "extensions": _pq(slug.sha256)})
    assert _code(mismatch) == "PERSISTED_QUERY_HASH_MISMATCH"
    # Over GET too.
    r = await b.app.client.get(
        "/graphql/v1",
        params={"extensions": f'{{"persistedQuery":{{"version":1,"sha256Hash":"{slug.sha256}"}}}}'},
        headers={"Authorization": f"Bearer {b.token}"},
    )
    assert r.status_code == 200 and r.json()["data"] == expected and "etag" in r.headers

    # An admin token keeps free-form queries (GraphiQL).
    admin = await b.accounts.create_token("acme", ["org:admin"])
    assert (await _post(b, {"query": "{ __typename }"}, token=admin))["data"] == {"__typename": "Query"}

    code, _ = await _cli(capsys, "persisted-queries", "remove", "Slug", "--database-url", database_url)
    assert code == 0
    assert _code(await _post(b, {"extensions": _pq(slug.sha256)})) == "PERSISTED_QUERY_NOT_FOUND"
    code, _ = await _cli(
        capsys, "persisted-queries", "remove", org.sha256[:12], "--database-url", database_url
    )
    assert code == 0
    code, out = await _cli(capsys, "persisted-queries", "list", "--database-url", database_url)
    assert out == ""
    code, _ = await _cli(capsys, "persisted-queries", "remove", "Nothing", "--database-url", database_url)
    assert code == 1


async def test_registered_operations_take_effect_within_the_refresh_time(
    make_app, sqlite_url, tmp_path, capsys
):
    b = await backend(make_app, sqlite_url, graphql_allowlist=True, graphql_allowlist_refresh_seconds=3600)
    path = tmp_path / "ops.graphql"
    path.write_text(FILE)
    slug = operations(FILE)[1]
    assert _code(await _post(b, {"extensions": _pq(slug.sha256)})) == "PERSISTED_QUERY_NOT_FOUND"
    assert (await _cli(capsys, "persisted-queries", "add", str(path), "--database-url", sqlite_url))[0] == 0
    # Read once per refresh period: an unknown hash costs no query of its own.
    assert _code(await _post(b, {"extensions": _pq(slug.sha256)})) == "PERSISTED_QUERY_NOT_FOUND"


async def test_bad_files_register_nothing(make_app, sqlite_url, tmp_path: Path, capsys):
    await backend(make_app, sqlite_url)
    good, bad = tmp_path / "good.graphql", tmp_path / "bad.graphql"
    good.write_text(FILE)
    bad.write_text("{ broken ")
    code = await asyncio.to_thread(
        main, ["persisted-queries", "add", str(good), str(bad), "--database-url", sqlite_url]
    )
    assert code == 1 and "bad.graphql" in capsys.readouterr().err
    code, out = await _cli(capsys, "persisted-queries", "list", "--database-url", sqlite_url)
    assert code == 0 and out == ""
