"""`groupBy=release.version`: builds and packages of one version form one group
(getsentry/sentry #103066), over REST and GraphQL, on SQLite and PostgreSQL.

The data (2021-01-14, production), hand-worked below:

    project web (1)
      25.11.2+345      u1 exited, u2 crashed, one anonymous session  -> 3 sessions
      25.11.2+346      u2 exited, u3 ok, u3 ok                       -> 3 sessions
      pkg@25.11.2+345  u4 exited                                     -> 1 session
      25.12.0          u1 ok                                         -> 1 session
      nightly          u5 ok                                         -> 1 session
    project api (2)
      25.11.2+345      u1 ok                                         -> 1 session

Version 25.11.2 of web: 3 + 3 + 1 = 7 sessions, one crashed; users {u1, u2, u3, u4} = 4
(u2 is in two builds and counts once; per release the counts 2 + 2 + 1 would add to 5),
crashed users {u2}: crash-free users 1 - 1/4 = 0.75, crash-free sessions 1 - 1/7.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import text

from storage.release_parser import version_key
from tests.backend_support import API, WEB, Backend, backend, session, sid, ts

DAY_START, DAY_END = "2021-01-14T00:00:00Z", "2021-01-15T00:00:00Z"
FIELDS = ("sum(session)", "count_unique(user)", "crash_free_rate(user)", "crash_free_rate(session)")


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("25.11.2+345", "25.11.2"),
        ("25.11.2+346", "25.11.2"),
        ("pkg@25.11.2+345", "25.11.2"),
        ("com.example.app@2.0.1", "2.0.1"),
        ("1.0.0-rc.1+7", "1.0.0-rc.1"),  # a prerelease is another version
        ("1.2.3.4+b.5", "1.2.3.4"),
        ("nightly", "nightly"),  # not a version: its own group
        ("pkg@" + "ab" * 20, "pkg@" + "ab" * 20),  # a build hash is not a version
        ("a@b@1.0+3", "a@b@1.0+3"),
        ("", ""),
    ],
)
def test_version_key(release: str, version: str) -> None:
    assert version_key(release) == version


async def _load(b: Backend) -> None:
    at = ts("2021-01-14T10:00:00Z")
    await b.write(
        session(WEB, "25.11.2+345", at, user="u1", status="exited", duration=10),
        session(WEB, "25.11.2+345", at, user="u2", status="crashed", sid=sid(1)),
        session(WEB, "25.11.2+345", at),
        session(WEB, "25.11.2+346", at, user="u2", status="exited", duration=20),
        session(WEB, "25.11.2+346", at, user="u3"),
        session(WEB, "25.11.2+346", at + 60, user="u3"),
        session(WEB, "pkg@25.11.2+345", at, user="u4", status="exited", duration=30),
        session(WEB, "25.12.0", at, user="u1"),
        session(WEB, "nightly", at, user="u5"),
        session(API, "25.11.2+345", at, user="u1"),
    )


async def _rest(b: Backend, *params: tuple[str, str]) -> dict[str, Any]:
    query = [("field", f) for f in FIELDS] + [("start", DAY_START), ("end", DAY_END), ("interval", "1d")]
    r = await b.app.client.get(
        f"/api/0/organizations/acme/sessions/?{urlencode([*query, *params])}",
        headers={"Authorization": f"Bearer {b.token}"},
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _expected(version: str, sessions: int, users: int, crashed_users: int, crashed: int) -> dict[str, Any]:
    totals = {
        "sum(session)": sessions,
        "count_unique(user)": users,
        "crash_free_rate(user)": 1 - crashed_users / users,
        "crash_free_rate(session)": 1 - crashed / sessions,
    }
    return {
        "by": {"release.version": version},
        "totals": totals,
        "series": {name: [value] for name, value in totals.items()},
    }


async def test_rest_groups_builds_of_one_version(make_app, database_url):
    b = await backend(make_app, database_url)
    await _load(b)
    body = await _rest(b, ("project", str(WEB)), ("groupBy", "release.version"))
    # Ordered by sum(session) descending; the tie of 25.12.0 and nightly by version name.
    assert body["groups"] == [
        _expected("25.11.2", sessions=7, users=4, crashed_users=1, crashed=1),
        _expected("25.12.0", sessions=1, users=1, crashed_users=0, crashed=0),
        _expected("nightly", sessions=1, users=1, crashed_users=0, crashed=0),
    ]


async def test_rest_release_version_with_projects(make_app, database_url):
    b = await backend(make_app, database_url)
    await _load(b)
    both = [("project", str(WEB)), ("project", str(API))]
    # Without project grouping, api's session adds to 25.11.2 but its user u1 is already
    # counted there: 8 sessions, still 4 users.
    body = await _rest(b, *both, ("groupBy", "release.version"))
    first = body["groups"][0]
    assert first["by"] == {"release.version": "25.11.2"}
    assert first["totals"]["sum(session)"] == 8
    assert first["totals"]["count_unique(user)"] == 4
    # Grouped by project too, the projects stay apart.
    body = await _rest(b, *both, ("groupBy", "project"), ("groupBy", "release.version"))
    by_group = {
        (g["by"]["project"], g["by"]["release.version"]): (
            g["totals"]["sum(session)"],
            g["totals"]["count_unique(user)"],
        )
        for g in body["groups"]
    }
    assert by_group == {
        (WEB, "25.11.2"): (7, 4),
        (WEB, "25.12.0"): (1, 1),
        (WEB, "nightly"): (1, 1),
        (API, "25.11.2"): (1, 1),
    }


async def test_rest_release_version_pages(make_app, database_url):
    """A page smaller than the groups reads its series filtered to the page's versions."""
    b = await backend(make_app, database_url)
    await _load(b)
    body = await _rest(b, ("project", str(WEB)), ("groupBy", "release.version"), ("per_page", "1"))
    assert body["groups"] == [_expected("25.11.2", sessions=7, users=4, crashed_users=1, crashed=1)]
    body = await _rest(
        b,
        ("project", str(WEB)),
        ("groupBy", "release.version"),
        ("per_page", "1"),
        ("cursor", "0:1:0"),
    )
    assert body["groups"] == [_expected("25.12.0", sessions=1, users=1, crashed_users=0, crashed=0)]


async def test_rest_release_and_release_version(make_app, database_url):
    """Both groupBy values: one group per release, each showing its version."""
    b = await backend(make_app, database_url)
    await _load(b)
    body = await _rest(b, ("project", str(WEB)), ("groupBy", "release"), ("groupBy", "release.version"))
    got = {
        g["by"]["release"]: (g["by"]["release.version"], g["totals"]["sum(session)"]) for g in body["groups"]
    }
    assert got == {
        "25.11.2+345": ("25.11.2", 3),
        "25.11.2+346": ("25.11.2", 3),
        "pkg@25.11.2+345": ("25.11.2", 1),
        "25.12.0": ("25.12.0", 1),
        "nightly": ("nightly", 1),
    }


GQL = """
query($q: SessionsQueryInput!) {
  sessions(organization: "acme", query: $q) {
    groups { by { project release releaseVersion } totals { field value count } }
  }
}
"""


async def test_graphql_groups_builds_of_one_version(make_app, database_url):
    b = await backend(make_app, database_url)
    await _load(b)
    data = await b.data(
        GQL,
        q={
            "fields": ["sum(session)", "count_unique(user)", "crash_free_rate(user)"],
            "groupBy": ["release.version"],
            "projects": [str(WEB)],
            "start": DAY_START,
            "end": DAY_END,
            "interval": "1d",
        },
    )
    groups = data["sessions"]["groups"]
    assert [g["by"] for g in groups] == [
        {"project": None, "release": None, "releaseVersion": v} for v in ("25.11.2", "25.12.0", "nightly")
    ]
    assert groups[0]["totals"] == [
        {"field": "sum(session)", "value": 7.0, "count": 7},
        {"field": "count_unique(user)", "value": 4.0, "count": 4},
        {"field": "crash_free_rate(user)", "value": 0.75, "count": None},
    ]


async def test_series_rows_store_their_version(make_app, database_url):
    b = await backend(make_app, database_url)
    await _load(b)
    async with b.store.engine.connect() as conn:
        rows = await conn.execute(text("SELECT project_id, release, version FROM release_env"))
        stored = {(p, r): v for p, r, v in rows}
    assert stored == {
        (WEB, "25.11.2+345"): "25.11.2",
        (WEB, "25.11.2+346"): "25.11.2",
        (WEB, "pkg@25.11.2+345"): "25.11.2",
        (WEB, "25.12.0"): "25.12.0",
        (WEB, "nightly"): "nightly",
        (API, "25.11.2+345"): "25.11.2",
    }
