"""The GraphQL API over a real store: auth, org isolation, errors, batching and numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from server.clock import FixedClock
from server.settings import Settings
from storage.engine import StatementCounter
from storage.types import (
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    SessionIncrement,
    WriteBatch,
)

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
NOW_ISO = "2025-06-02T10:00:30Z"


async def _setup(make_app, url):
    # The server clock at NOW: with the real clock, `now: NOW` would be older than the
    # retention, which answers BAD_USER_INPUT.
    app = await make_app(Settings(database_url=url), FixedClock(NOW))
    acc = app.services.accounts
    web, _ = await acc.create_project("acme", "web", 1)
    other, _ = await acc.create_project("globex", "shop", 2)
    token = await acc.create_token("acme", ["org:read"])
    other_token = await acc.create_token("globex", ["org:read"])
    return app, token, other_token


def _session(project, release, *, started, user=None, crashed=False, sid=None, env="production"):
    tags = USER_SEEN
    if crashed:
        tags |= USER_ERRORED | USER_CRASHED
    return SessionIncrement(
        project_id=project,
        release=release,
        environment=env,
        started=started,
        started_count=1,
        crashed=1 if crashed else 0,
        error_sid=sid if crashed else None,
        user=user,
        user_tags=tags if user else 0,
    )


async def _gql(client, token, query, **variables):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await client.post("/graphql/v1", json={"query": query, "variables": variables}, headers=headers)
    return r


async def test_missing_or_bad_token_is_401(make_app, sqlite_url):
    app, _, _ = await _setup(make_app, sqlite_url)
    r = await _gql(app.client, None, "{ __typename }")
    assert r.status_code == 401
    body = r.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Bearer" in body["errors"][0]["message"]
    r = await _gql(app.client, "rh_nope", "{ __typename }")
    assert r.status_code == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_page_opens_in_a_browser_without_token(make_app, sqlite_url):
    app, _, _ = await _setup(make_app, sqlite_url)
    r = await app.client.get("/graphql/v1", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "graphiql" in r.text.lower()


async def test_org_isolation(make_app, database_url):
    app, token, other_token = await _setup(make_app, database_url)
    await app.services.store.apply([WriteBatch([_session(1, "web@1", started=NOW - 60, user="u1")])])
    q = '{ project(id: "1") { slug releases(now: "%s") { totalCount nodes { version } } } }' % NOW_ISO
    mine = (await _gql(app.client, token, q)).json()
    assert mine["data"]["project"]["slug"] == "web"
    assert mine["data"]["project"]["releases"]["totalCount"] == 1
    theirs = (await _gql(app.client, other_token, q)).json()
    assert theirs["data"]["project"] is None
    q2 = (
        '{ releases(projectIds: ["1"], now: "%s") { totalCount } organization(slug: "acme") { slug } }'
        % NOW_ISO
    )
    theirs = (await _gql(app.client, other_token, q2)).json()
    assert theirs["data"] == {"releases": {"totalCount": 0}, "organization": None}


async def test_syntax_and_validation_errors_keep_their_messages(make_app, sqlite_url):
    app, token, _ = await _setup(make_app, sqlite_url)
    body = (await _gql(app.client, token, "{ nope }")).json()
    assert "Cannot query field 'nope'" in body["errors"][0]["message"]
    body = (await _gql(app.client, token, "{ project(id: ")).json()
    assert "Syntax Error" in body["errors"][0]["message"]


async def test_bad_period_is_bad_user_input(make_app, sqlite_url):
    app, token, _ = await _setup(make_app, sqlite_url)
    q = '{ release(projectId: "1", version: "x") { health(summaryPeriod: "5h") { totalSessions } } }'
    body = (await _gql(app.client, token, q)).json()
    assert body["errors"][0]["message"] == "Invalid stats period"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_overview_numbers(make_app, database_url):
    """foo@2.0.0: 3 sessions by 3 users, one crashed (release-health.md 5.4 example)."""
    app, token, _ = await _setup(make_app, database_url)
    incs = [
        _session(1, "foo@2.0.0", started=NOW - 3600, user="a"),
        _session(1, "foo@2.0.0", started=NOW - 1800, user="b"),
        _session(
            1,
            "foo@2.0.0",
            started=NOW - 60,
            user="c",
            crashed=True,
            sid="00000000-0000-4000-8000-000000000001",
        ),
        _session(1, "foo@1.0.0", started=NOW - 60, user="a"),
    ]
    await app.services.store.apply([WriteBatch(incs)])
    q = """query($now: DateTime) { release(projectId: "1", version: "foo@2.0.0") {
      health(now: $now, healthStatsPeriod: "24h") { totalSessions totalUsers crashFreeSessions crashFreeUsers
        sessionsCrashed sessionsErrored unhandledSessionRate hasHealthData durationP50
        series { intervals values } }
      adoption(now: $now) { adoption sessionsAdoption users24h sessions24h projectUsers24h projectSessions24h } } }"""
    body = (await _gql(app.client, token, q, now=NOW_ISO)).json()
    h = body["data"]["release"]["health"]
    assert h["totalSessions"] == 3
    assert h["totalUsers"] == 3
    assert h["crashFreeSessions"] == 100 - 1 / 3 * 100 == 66.66666666666667
    assert h["crashFreeUsers"] == 66.66666666666667
    assert h["sessionsCrashed"] == 1
    assert h["sessionsErrored"] == 0  # max(0, 1 errored - 1 crashed)
    assert h["unhandledSessionRate"] == 1 / 3 * 100
    assert h["hasHealthData"] is True
    assert h["durationP50"] is None
    # now not on the hour: 25 hourly entries, the last containing now (09:00 bucket holds 2
    # sessions started 09:00:30 and 09:30:30; 10:00 holds the one at 09:59:30? no: 09:59:30 is 09:00)
    series = h["series"]
    assert len(series["intervals"]) == 25
    assert series["intervals"][0] == "2025-06-01T10:00:00Z"
    assert series["intervals"][-1] == "2025-06-02T10:00:00Z"
    assert sum(series["values"]) == 3
    assert series["values"][-2] == 3.0  # all three started in the 09:00 hour
    a = body["data"]["release"]["adoption"]
    # users: foo@2 has a,b,c (3), project has a,b,c (3) -> 100; sessions 3 of 4 -> 75
    assert a == {
        "adoption": 100.0,
        "sessionsAdoption": 3 / 4 * 100,
        "users24h": 3,
        "sessions24h": 3,
        "projectUsers24h": 3,
        "projectSessions24h": 4,
    }


async def test_releases_sorted_and_paginated(make_app, sqlite_url):
    app, token, _ = await _setup(make_app, sqlite_url)
    incs = []
    for i, n in enumerate([5, 1, 3]):
        incs += [_session(1, f"r{i}", started=NOW - 100, user=f"u{i}-{k}") for k in range(n)]
    incs.append(
        _session(
            1, "r1", started=NOW - 50, user="x", crashed=True, sid="00000000-0000-4000-8000-000000000009"
        )
    )
    await app.services.store.apply([WriteBatch(incs)])
    q = (
        """query($after: String, $sort: ReleaseSort) { releases(projectIds: ["1"], first: 2, after: $after,
        sort: $sort, now: "%s") { totalCount pageInfo { hasNextPage endCursor } nodes { version } } }"""
        % NOW_ISO
    )
    page = (await _gql(app.client, token, q)).json()["data"]["releases"]
    assert page["totalCount"] == 3
    assert [n["version"] for n in page["nodes"]] == ["r0", "r2"]  # 5 and 3 sessions; r1 has 2
    assert page["pageInfo"]["hasNextPage"] is True
    page2 = (await _gql(app.client, token, q, after=page["pageInfo"]["endCursor"])).json()["data"]["releases"]
    assert [n["version"] for n in page2["nodes"]] == ["r1"]
    assert page2["pageInfo"]["hasNextPage"] is False
    by_crash = (await _gql(app.client, token, q, sort="CRASH_FREE_SESSIONS")).json()["data"]["releases"]
    # r1: 1 crash of 2 started (crash rate .5) first; r0 and r2 have rate 0 -> tie broken by release
    assert [n["version"] for n in by_crash["nodes"]] == ["r1", "r0"]


async def test_statement_count_does_not_grow_with_releases(make_app, database_url):
    app, token, _ = await _setup(make_app, database_url)
    incs = [
        _session(
            1,
            f"r{i:02d}",
            started=NOW - 600 - i,
            user=f"u{i}",
            crashed=i % 3 == 0,
            sid=f"00000000-0000-4000-8000-{i:012d}",
        )
        for i in range(60)
    ]
    await app.services.store.apply([WriteBatch(incs)])
    counts = {}
    # The first request also reads the token and the projects it names, which the
    # process then keeps (storage/read_cache.py): compare requests in the steady state.
    await _gql(app.client, token, '{ releases(projectIds: ["1"], first: 1) { totalCount } }')
    for n in (1, 50):
        q = """{ releases(projectIds: ["1"], first: %d, now: "%s") { totalCount nodes { version
            health(healthStatsPeriod: "24h") { totalSessions crashFreeUsers durationP90 series { values } }
            adoption { adoption } } } }""" % (n, NOW_ISO)
        counter = StatementCounter(app.services.engine)
        try:
            body = (await _gql(app.client, token, q)).json()
        finally:
            counter.close()
        assert "errors" not in body, body
        assert len(body["data"]["releases"]["nodes"]) == n
        counts[n] = counter.count
    assert counts[1] == counts[50], counts


async def test_unexpected_errors_are_masked_and_logged(make_app, sqlite_url, monkeypatch, caplog):
    app, token, _ = await _setup(make_app, sqlite_url)

    async def broken(query):
        raise RuntimeError("connection string postgres://secret@db")

    monkeypatch.setattr(app.services.store, "aggregate", broken)
    q = '{ release(projectId: "1", version: "x") { health { totalSessions } } }'
    body = (await _gql(app.client, token, q)).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)
    assert "secret" in caplog.text
    # an unexpected error keeps its traceback in the log (a user error does not)
    (record,) = [r for r in caplog.records if "secret" in r.getMessage()]
    assert record.levelname == "ERROR"
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "Traceback" in caplog.text
