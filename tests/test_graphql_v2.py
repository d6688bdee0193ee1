"""API v2 over a real store: numbers worked out by hand from the sessions written, the
scope in every scoped id, global ids through `node`, one rule for what does not exist,
page caps, and v2 == v1 for the same question."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.engine import StatementCounter
from storage.types import (
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    ClientDimensions,
    SessionIncrement,
    WriteBatch,
)

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
NOW_ISO = "2025-06-02T10:00:30Z"
HOUR, DAY = 3600, 86400
IOS = ClientDimensions(sdk_name="sentry.cocoa", os_name="iOS", os_major="iOS 17")
ANDROID = ClientDimensions(sdk_name="sentry.java.android", os_name="Android", os_major="Android 14")


def _session(release, ago, user, *, crashed=False, env="production", dims=IOS, project=1):
    tags = USER_SEEN | ((USER_ERRORED | USER_CRASHED) if crashed else 0)
    return SessionIncrement(
        project_id=project,
        release=release,
        environment=env,
        started=NOW - ago,
        started_count=1,
        crashed=int(crashed),
        error_sid=f"00000000-0000-4000-8000-{int(ago):012d}" if crashed else None,
        user=user,
        user_tags=tags,
        dimensions=dims,
    )


#: In the 24 hours before NOW: web@1 has 4 sessions of u1 (twice), u2 (crashed) and u3,
#: web@2 one of u4 in staging; three days earlier web@2 had one of u5. Another
#: organization's project 2 has shop@1.
SESSIONS = [
    _session("web@1", 600, "u1"),
    _session("web@1", 2 * HOUR, "u1", dims=ANDROID),
    _session("web@1", 3 * HOUR, "u2", crashed=True),
    _session("web@1", 4 * HOUR, "u3", dims=ANDROID),
    _session("web@2", 2 * HOUR, "u4", env="staging"),
    _session("web@2", 3 * DAY, "u5"),
    _session("shop@1", 600, "x1", project=2),
]


@pytest.fixture
async def api(make_app, database_url):
    clock = FixedClock(NOW)
    app = await make_app(Settings(database_url=database_url), clock)
    accounts = app.services.accounts
    await accounts.create_project("acme", "web", 1)
    await accounts.create_project("globex", "shop", 2)
    token = await accounts.create_token("acme", ["org:read"])
    await app.services.store.apply([WriteBatch(SESSIONS)])

    async def query(text: str, path: str = "/graphql", **variables: object) -> dict:
        r = await app.client.post(
            path, json={"query": text, "variables": variables}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 200, r.text
        return r.json()

    query.app = app  # type: ignore[attr-defined]
    query.clock = clock  # type: ignore[attr-defined]
    return query


def _data(body: dict) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"]


def _code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


RELEASE_NUMBERS = """
  id sessions users crashFreeSessionRate crashFreeUserRate unhandledSessionRate
  sessionsByStatus { total healthy errored crashed abnormal unhandled }
  hasSessionData scope { period start end environments at }
"""


async def test_releases_page_numbers_worked_out_by_hand(api):
    body = await api(
        """query($scope: HealthScope!) { organization(slug: "acme") { health(scope: $scope) {
             releases(first: 10) { totalCount nodes { %s release { version project { slug } } } } } } }"""
        % RELEASE_NUMBERS,
        scope={"window": {"period": "LAST_24_HOURS"}},
    )
    page = _data(body)["organization"]["health"]["releases"]
    assert page["totalCount"] == 2
    first, second = page["nodes"]
    assert first["release"] == {"version": "web@1", "project": {"slug": "web"}}
    assert (first["sessions"], first["users"]) == (4, 3)
    assert first["crashFreeSessionRate"] == pytest.approx(75.0)  # 1 of 4 sessions crashed
    assert first["crashFreeUserRate"] == pytest.approx(100 * 2 / 3)  # u2 of u1, u2, u3
    assert first["unhandledSessionRate"] == pytest.approx(25.0)  # crashed count as unhandled
    assert first["sessionsByStatus"] == {
        "total": 4,
        "healthy": 3,
        "errored": 0,
        "crashed": 1,
        "abnormal": 0,
        "unhandled": 0,
    }
    # The scope was resolved once, at the request's clock.
    assert first["scope"] == {
        "period": "LAST_24_HOURS",
        "start": "2025-06-01T10:00:30Z",
        "end": NOW_ISO,
        "environments": None,
        "at": NOW_ISO,
    }
    assert second["release"]["version"] == "web@2"
    assert (second["sessions"], second["users"], second["crashFreeSessionRate"]) == (1, 1, 100.0)


async def test_every_scoped_id_includes_its_scope_and_node_recomputes_it(api):
    q = """{ release(project: "1", version: "web@2") { id
             day: health(scope: {window: {period: LAST_24_HOURS}}) { id sessions }
             week: health(scope: {window: {period: LAST_7_DAYS}}) { id sessions }
             prod: health(scope: {window: {period: LAST_24_HOURS}, environments: ["production"]}) { id sessions hasSessionData }
             earlier: health(scope: {window: {period: LAST_24_HOURS}, at: "2025-05-30T12:00:00Z"}) { id sessions } } }"""
    release = _data(await api(q))["release"]
    day, week, prod, earlier = release["day"], release["week"], release["prod"], release["earlier"]
    assert (day["sessions"], week["sessions"], prod["sessions"], earlier["sessions"]) == (1, 2, 0, 1)
    assert prod["hasSessionData"] is True  # no sessions in the window, but some in 90 days
    ids = {release["id"], day["id"], week["id"], prod["id"], earlier["id"]}
    assert len(ids) == 5  # five objects, five cache entries
    # `node` gives each back in its own scope, at its own `at`, whatever the request's clock.
    for obj in (day, week, prod, earlier):
        again = _data(await api('{ node(id: "%s") { id ... on ReleaseHealth { sessions } } }' % obj["id"]))
        assert again["node"] == {"id": obj["id"], "sessions": obj["sessions"]}
    node = _data(
        await api('{ node(id: "%s") { __typename ... on Release { version projectId } } }' % release["id"])
    )
    assert node["node"] == {"__typename": "Release", "version": "web@2", "projectId": "1"}


async def test_a_live_scope_keeps_its_id_as_the_clock_moves_and_a_pinned_one_does_not_move(api):
    """A scope without `at` is live ("the last 24 hours"): one object whose numbers a cache
    updates in place (and whose pages merge). With `at`, each instant is its own object."""
    q = (
        """{ release(project: "1", version: "web@1") {
             live: health(scope: {window: {period: LAST_24_HOURS}}) { id sessions scope { at } }
             pinned: health(scope: {window: {period: LAST_24_HOURS}, at: "%s"}) { id sessions scope { at } } } }"""
        % NOW_ISO
    )
    before = _data(await api(q))["release"]
    api.clock.at = NOW + 21 * HOUR  # web@1's session of 4 h before NOW leaves the live window
    after = _data(await api(q))["release"]
    assert before["live"]["id"] == after["live"]["id"]
    assert (before["live"]["sessions"], after["live"]["sessions"]) == (4, 3)
    assert after["live"]["scope"]["at"] == "2025-06-03T07:00:30Z"
    assert before["pinned"] == after["pinned"]  # same id, same numbers, same instant
    assert before["pinned"]["id"] != before["live"]["id"]
    # `node` recomputes a live id at the request's clock, a pinned one at its instant.
    live = _data(await api('{ node(id: "%s") { ... on ReleaseHealth { sessions } } }' % before["live"]["id"]))
    assert live["node"]["sessions"] == 3


async def test_previous_period_steps_back_one_window_at_a_time(api):
    q = """{ project(id: "1") { health(scope: {window: {period: LAST_48_HOURS}}) { id scope { start end }
             previousPeriod { id sessions scope { start end at } previousPeriod { scope { start end } } } } } }"""
    health = _data(await api(q))["project"]["health"]
    previous = health["previousPeriod"]
    assert previous["scope"] == {
        "start": "2025-05-29T10:00:30Z",
        "end": "2025-05-31T10:00:30Z",
        "at": "2025-05-31T10:00:30Z",
    }
    assert previous["previousPeriod"]["scope"] == {
        "start": "2025-05-27T10:00:30Z",
        "end": "2025-05-29T10:00:30Z",
    }
    assert previous["sessions"] == 1  # web@2's session of three days ago
    again = _data(
        await api('{ node(id: "%s") { ... on ProjectHealth { sessions scope { start } } } }' % previous["id"])
    )
    assert again["node"] == {"sessions": 1, "scope": {"start": "2025-05-29T10:00:30Z"}}


async def test_the_same_question_has_the_same_answer_in_v1_and_v2(api):
    v1 = _data(
        await api(
            """{ release(projectId: "1", version: "web@1") { health(summaryPeriod: "7d", now: "%s", environments: ["production"]) {
                 totalSessions totalUsers crashFreeSessions crashFreeUsers sessionsCrashed durationP50 }
                 adoption(now: "%s", environments: ["production"]) { adoption sessionsAdoption users24h projectSessions24h } } }"""
            % (NOW_ISO, NOW_ISO),
            path="/graphql/v1",
        )
    )["release"]
    v2 = _data(
        await api(
            """{ release(project: "1", version: "web@1") { health(scope: {window: {period: LAST_7_DAYS}, environments: ["production"], at: "%s"}) {
                 sessions users crashFreeSessionRate crashFreeUserRate sessionsByStatus { crashed } durationP50Seconds
                 adoption { userRate sessionRate users projectSessions } } } }"""
            % NOW_ISO
        )
    )["release"]["health"]
    old = v1["health"]
    assert (v2["sessions"], v2["users"]) == (old["totalSessions"], old["totalUsers"]) == (4, 3)
    assert (v2["crashFreeSessionRate"], v2["crashFreeUserRate"]) == (
        old["crashFreeSessions"],
        old["crashFreeUsers"],
    )
    assert (v2["sessionsByStatus"]["crashed"], v2["durationP50Seconds"]) == (
        old["sessionsCrashed"],
        old["durationP50"],
    )
    a = v1["adoption"]
    assert v2["adoption"] == {
        "userRate": a["adoption"],
        "sessionRate": a["sessionsAdoption"],
        "users": a["users24h"],
        "projectSessions": a["projectSessions24h"],
    }
    assert v2["adoption"]["userRate"] == pytest.approx(100.0)  # production: only web@1's users


async def test_a_range_window_counts_the_hours_it_covers(api):
    q = """{ release(project: "1", version: "web@1") { health(scope: {window: {range: {
             start: "2025-06-02T06:00:00Z", end: "2025-06-02T09:00:00Z"}}}) {
             sessions users crashFreeSessionRate scope { period } series(interval: HOUR) { intervals total crashed totals { total } } } } }"""
    health = _data(await api(q))["release"]["health"]
    # The totals count the hour buckets 06:00, 07:00 and 08:00: the sessions 4 h (u3),
    # 3 h (u2, crashed) and 2 h (u1) before 10:00:30.
    assert (health["sessions"], health["users"], health["crashFreeSessionRate"]) == (
        3,
        3,
        pytest.approx(100 * 2 / 3),
    )
    assert health["scope"]["period"] is None
    series = health["series"]
    # The series (release-health.md 5.11) starts at the first boundary after `start` and
    # covers `end`'s bucket: 07:00 (u2), 08:00 (u1) and 09:00 (u1, 10 minutes before NOW).
    assert series["total"] == [1, 1, 1]
    assert series["intervals"] == ["2025-06-02T07:00:00Z", "2025-06-02T08:00:00Z", "2025-06-02T09:00:00Z"]
    assert series["crashed"] == [1, 0, 0]


async def test_project_health_numbers_previous_period_versions_and_breakdown(api):
    q = """{ project(id: "1") { id projectId slug health(scope: {window: {period: LAST_24_HOURS}}) {
             sessions users crashFreeSessionRate crashFreeUserRate hasSessionData
             previousPeriod { hasSessionData }
             previousPeriod { sessions scope { start end at } }
             versions { totalCount nodes { value sessions } }
             breakdown(by: OS) { totalCount nodes { value sessions users crashFreeSessionRate } } } } }"""
    project = _data(await api(q))["project"]
    assert (project["projectId"], project["slug"]) == ("1", "web")
    health = project["health"]
    assert (health["sessions"], health["users"]) == (5, 4)  # u1 twice, u2, u3, u4
    assert health["crashFreeSessionRate"] == pytest.approx(80.0)
    assert health["crashFreeUserRate"] == pytest.approx(75.0)
    assert health["previousPeriod"]["sessions"] == 0
    assert health["hasSessionData"] is True  # web@2's session of three days ago counts too
    assert health["previousPeriod"]["scope"]["end"] == "2025-06-01T10:00:30Z"
    assert health["versions"]["nodes"] == [{"value": "1", "sessions": 4}, {"value": "2", "sessions": 1}]
    by_os = {n["value"]: n for n in health["breakdown"]["nodes"]}
    assert by_os["iOS"]["sessions"] == 3 and by_os["iOS"]["crashFreeSessionRate"] == pytest.approx(
        100 * 2 / 3
    )
    assert by_os["Android"]["sessions"] == 2 and by_os["Android"]["users"] == 2


async def test_release_breakdown_by_client_dimension(api):
    q = """{ release(project: "1", version: "web@1") { health(scope: {window: {period: LAST_24_HOURS}}) {
             breakdown(by: OS_MAJOR, first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { value sessions } } } } }"""
    page = _data(await api(q))["release"]["health"]["breakdown"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"] is True
    assert page["nodes"] == [{"value": "Android 14", "sessions": 2}]  # ties: by value


async def test_one_rule_for_what_does_not_exist(api):
    body = await api(
        """{ organization(slug: "globex") { slug } project(id: "2") { slug } nope: project(id: "99") { slug }
             release(project: "1", version: "never@1") { version }
             other: release(project: "2", version: "shop@1") { version } }"""
    )
    assert _data(body) == {
        "organization": None,
        "project": None,
        "nope": None,
        "release": None,
        "other": None,
    }
    # Another organization's object, by a well-formed id: null too.
    org = _data(await api("{ viewer { organization { id slug } scopes } }"))["viewer"]
    assert org["organization"]["slug"] == "acme" and org["scopes"] == ["org:read"]
    mine = _data(await api('{ project(id: "1") { id } }'))["project"]["id"]
    assert _data(await api('{ project(id: "%s") { projectId } }' % mine)) == {"project": {"projectId": "1"}}
    nodes = _data(await api('{ nodes(ids: ["%s", "%s"]) { id } }' % (mine, org["organization"]["id"])))[
        "nodes"
    ]
    assert [n["id"] for n in nodes] == [mine, org["organization"]["id"]]
    # A malformed id is the caller's error.
    assert _code(await api('{ node(id: "not-an-id") { id } }')) == "BAD_USER_INPUT"
    assert _code(await api('{ project(id: "%s") { id } }' % org["organization"]["id"])) == "BAD_USER_INPUT"


async def test_page_size_is_capped_and_scopes_are_checked(api):
    body = await api(
        '{ organization(slug: "acme") { health(scope: {window: {period: LAST_24_HOURS}}) { releases(first: 101) { totalCount } } } }'
    )
    assert _code(body) == "BAD_USER_INPUT" and "100" in body["errors"][0]["message"]
    both = await api(
        """{ release(project: "1", version: "web@1") { health(scope: {window: {period: LAST_HOUR,
             range: {start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z"}}}) { sessions } } }"""
    )
    assert both["errors"] and both.get("data") is None
    backwards = await api(
        """{ release(project: "1", version: "web@1") { health(scope: {window: {range: {
             start: "2025-06-02T00:00:00Z", end: "2025-06-01T00:00:00Z"}}}) { sessions } } }"""
    )
    assert _code(backwards) == "BAD_USER_INPUT"
    ranked_range = await api(
        """{ project(id: "1") { health(scope: {window: {range: {start: "2025-06-01T00:00:00Z",
             end: "2025-06-02T00:00:00Z"}}}) { releases { totalCount } } } }"""
    )
    assert _code(ranked_range) == "BAD_USER_INPUT"


async def test_ascending_order_is_the_exact_reverse(api):
    q = """query($d: OrderDirection!) { project(id: "1") { health(scope: {window: {period: LAST_7_DAYS}}) {
             releases(orderBy: {field: SESSIONS, direction: $d}) { nodes { release { version } } } } } }"""
    desc = _data(await api(q, d="DESC"))["project"]["health"]["releases"]["nodes"]
    asc = _data(await api(q, d="ASC"))["project"]["health"]["releases"]["nodes"]
    assert [n["release"]["version"] for n in desc] == ["web@1", "web@2"]
    assert asc == desc[::-1]


async def test_pages_cost_the_same_statements_whatever_their_size(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    await app.services.store.apply(
        [WriteBatch([_session(f"web@{i}", 600 + i, f"u{i}", crashed=i % 3 == 0) for i in range(40)])]
    )
    q = """{ project(id: "1") { health(scope: {window: {period: LAST_24_HOURS}}) { sessions
             releases(first: %d) { nodes { sessions crashFreeUserRate durationP90Seconds adoption { userRate }
             series(interval: HOUR) { total } release { version } } } } } }"""
    headers = {"Authorization": f"Bearer {token}"}
    await app.client.post("/graphql", json={"query": q % 1}, headers=headers)  # warm the read caches
    counts = {}
    for n in (1, 40):
        counter = StatementCounter(app.services.engine)
        try:
            body = (await app.client.post("/graphql", json={"query": q % n}, headers=headers)).json()
        finally:
            counter.close()
        assert "errors" not in body, body
        assert len(body["data"]["project"]["health"]["releases"]["nodes"]) == n
        counts[n] = counter.count
    assert counts[1] == counts[40], counts


async def test_nodes_batch_their_lookups(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    await app.services.store.apply([WriteBatch([_session(f"web@{i}", 600 + i, f"u{i}") for i in range(30)])])
    headers = {"Authorization": f"Bearer {token}"}
    page = '{ project(id: "1") { releases(first: %d) { nodes { id } } } }'
    counts = {}
    for n in (1, 30):
        ids = [
            e["id"]
            for e in (await app.client.post("/graphql", json={"query": page % n}, headers=headers)).json()[
                "data"
            ]["project"]["releases"]["nodes"]
        ]
        q = (
            "{ nodes(ids: %s) { ... on Release { version health(scope: {window: {period: LAST_24_HOURS}}) { sessions } } } }"
            % json.dumps(ids)
        )
        counter = StatementCounter(app.services.engine)
        try:
            body = (await app.client.post("/graphql", json={"query": q}, headers=headers)).json()
        finally:
            counter.close()
        assert "errors" not in body, body
        assert [n["health"]["sessions"] for n in body["data"]["nodes"]] == [1] * n
        counts[n] = counter.count
    assert counts[1] == counts[30], counts


async def test_v1_is_served_deprecated_with_its_sunset_and_successor(api):
    r = await api.app.client.post(  # type: ignore[attr-defined]
        "/graphql/v1", json={"query": "{ __typename }"}, headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401  # every answer, errors included, announces the sunset
    assert r.headers["deprecation"] == "@1796342400"  # RFC 9745: deprecated 2026-12-04
    assert r.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert r.headers["link"] == '</graphql>; rel="successor-version"'
    v1 = _data(await api('{ releases(projectIds: ["1"]) { totalCount } }', path="/graphql/v1"))
    assert v1 == {"releases": {"totalCount": 2}}
    current = await api.app.client.post("/graphql", json={"query": "{ __typename }"})  # type: ignore[attr-defined]
    assert "deprecation" not in current.headers and "sunset" not in current.headers


@pytest.mark.parametrize("parts", ["[1000000000000000000000000000000]", "[-1]", "[true]", '"x"', "[1, 2, 3]"])
async def test_a_forged_id_is_the_callers_error(api, parts):
    import base64

    for type_name in ("Project", "ProjectHealth", "Release", "ReleaseHealth"):
        forged = base64.urlsafe_b64encode(f"{type_name}:{parts}".encode()).decode().rstrip("=")
        assert _code(await api('{ node(id: "%s") { id } }' % forged)) == "BAD_USER_INPUT", (type_name, parts)


async def test_ingest_outcomes_are_a_connection_of_enums(api):
    from storage.types import OutcomeIncrement

    app = api.app  # type: ignore[attr-defined]
    await app.services.store.apply(
        [
            WriteBatch(
                [],
                outcomes=[
                    OutcomeIncrement(1, "session", "accepted", "", NOW - 600, 3),
                    OutcomeIncrement(1, "session", "dropped", "too_old", NOW - 600, 2),
                    OutcomeIncrement(1, "sessions", "normalized", "environment_removed", NOW - 2 * HOUR, 1),
                ],
            )
        ]
    )
    q = """{ project(id: "1") { ingestOutcomes(first: 2) { totalCount pageInfo { hasNextPage }
             nodes { hour itemType kind reason count } } } }"""
    page = _data(await api(q))["project"]["ingestOutcomes"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    assert page["nodes"] == [
        {"hour": None, "itemType": "SESSION", "kind": "ACCEPTED", "reason": None, "count": 3},
        {"hour": None, "itemType": "SESSION", "kind": "DROPPED", "reason": "too_old", "count": 2},
    ]
