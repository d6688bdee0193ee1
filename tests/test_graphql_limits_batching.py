"""List fields below a list are batched: nesting `releases -> project -> releases` runs a
number of SQL statements that does not depend on the number of releases or projects."""

from __future__ import annotations

from storage.engine import StatementCounter
from tests.backend_support import API, WEB, backend, session, sid, ts

NOW = "2021-01-14T12:30:00Z"

NESTED = """{ releases(projectIds: ["1", "2"], first: N, now: "NOW") { nodes { version
  project { id releases(first: N, now: "NOW") { totalCount nodes { version
    project { id ingestOutcomes { kind count } organization { projects { id } environments { name } }
      releases(first: N, now: "NOW") { totalCount nodes { version } } } } } } } } }"""


async def _count(b, query):
    # The first request also reads the token and the projects it names, which the
    # process then keeps (storage/read_cache.py): compare requests in the steady state.
    await b.gql(query)
    counter = StatementCounter(b.app.services.engine)
    try:
        body = await b.gql(query)
    finally:
        counter.close()
    assert "errors" not in body, body
    return counter.count, body["data"]


async def test_nested_releases_do_not_grow_with_releases(make_app, database_url):
    # (Cubic in `first`: over the default cost maximum at 15; batching is the point here.)
    b = await backend(make_app, database_url, graphql_max_cost=10**8)
    await b.write(
        *[
            session(pid, f"r{pid}.{i:02d}", ts("2021-01-14T10:00:00Z") - 60 * i, sid=sid(100 * pid + i))
            for pid in (WEB, API)
            for i in range(20)
        ]
    )
    counts = {}
    for n in (1, 15):
        counts[n], data = await _count(b, NESTED.replace("NOW", NOW).replace("N", str(n)))
        nodes = data["releases"]["nodes"]
        assert len(nodes) == n
        for node in nodes:
            inner = node["project"]["releases"]
            assert inner["totalCount"] == 20
            assert len(inner["nodes"]) == n
            # Each release's project lists its own releases, in its own stability order.
            pid = node["project"]["id"]
            assert all(r["version"].startswith(f"r{pid}.") for r in inner["nodes"])
            deepest = inner["nodes"][0]["project"]
            assert [r["version"] for r in deepest["releases"]["nodes"]] == [
                r["version"] for r in inner["nodes"]
            ]
            assert {p["id"] for p in deepest["organization"]["projects"]} == {"1", "2"}
    assert counts[1] == counts[15], counts


async def test_project_releases_page_like_the_root_field(make_app, sqlite_url):
    """The batched per-project page is the root field's page for that project."""
    b = await backend(make_app, sqlite_url)
    await b.write(
        *[
            session(
                WEB,
                f"r{i}",
                ts("2021-01-14T10:00:00Z") - 60 * i,
                sid=sid(i),
                user=f"u{i % 3}",
                status="crashed" if i % 3 == 0 else "exited",
            )
            for i in range(9)
        ]
    )
    for sort in ("SESSIONS", "CRASH_FREE_SESSIONS", "USERS"):
        args = f'first: 3, sort: {sort}, now: "{NOW}"'
        root = await b.data(
            f'{{ releases(projectIds: ["1"], {args}) {{ totalCount nodes {{ version }} pageInfo {{ endCursor }} }} }}'
        )
        cursor = root["releases"]["pageInfo"]["endCursor"]
        nested = await b.data(
            f'{{ project(id: "1") {{ releases({args}) {{ totalCount nodes {{ version }} }} '
            f'next: releases({args}, after: "{cursor}") {{ nodes {{ version }} }} }} }}'
        )
        assert nested["project"]["releases"]["totalCount"] == root["releases"]["totalCount"]
        assert nested["project"]["releases"]["nodes"] == root["releases"]["nodes"]
        rest = await b.data(
            f'{{ releases(projectIds: ["1"], {args}, after: "{cursor}") {{ nodes {{ version }} }} }}'
        )
        assert nested["project"]["next"]["nodes"] == rest["releases"]["nodes"]
