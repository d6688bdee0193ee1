"""Which releases have data: check_releases_have_health_data (release-health.md 5.2),
get_changed_project_release_model_adoptions (5.7), and the releases count (5.9) in GraphQL."""

from __future__ import annotations

from resolvers.health import changed_release_adoptions, releases_count_per_project, releases_have_health_data
from tests.backend_support import API, SHOP, WEB, backend, memory_backend, memory_store, session, sid, ts

NOW = ts("2021-01-14T12:30:00Z")


# -- 5.2 check_releases_have_health_data ----------------------------------------------------


async def _write_5_2(b):
    await b.write(
        session(WEB, "r1", ts("2021-01-14T10:05:00Z")),  # bucket 10:00 = floor(10:30)
        session(API, "r2", ts("2021-01-14T12:50:00Z")),  # bucket 12:00 < ceil(12:15:23) = 13:00
        session(WEB, "r3", ts("2021-01-14T13:00:00Z")),  # bucket 13:00: outside
        session(WEB, "r3", ts("2021-01-14T09:59:59Z")),  # bucket 09:00: outside
        session(SHOP, "r3", ts("2021-01-14T11:00:00Z")),  # a project not asked about
        session(WEB, "r4", ts("2021-01-14T11:00:00Z")),  # a release not asked about
        # a crash update without init: counter data although nothing started
        session(WEB, "r5", ts("2021-01-14T11:00:00Z"), status="crashed", sid=sid(1), init=False),
    )


async def test_releases_have_health_data_window():
    b = memory_store()
    await _write_5_2(b)
    found = await releases_have_health_data(
        b.store,
        [WEB, API],
        ["r1", "r2", "r3", "r5", "r6"],
        start=ts("2021-01-14T10:30:00Z"),
        end=ts("2021-01-14T12:15:23Z"),
    )
    assert found == {"r1", "r2", "r5"}
    assert await releases_have_health_data(b.store, [WEB], [], start=0, end=NOW) == set()
    assert await releases_have_health_data(b.store, [], ["r1"], start=0, end=NOW) == set()


async def test_releases_have_health_data_graphql(make_app, database_url):
    b = await backend(make_app, database_url)
    await _write_5_2(b)
    q = """{ releasesHaveHealthData(projectIds: ["1", "2", "3"], releases: ["r1", "r2", "r3", "r6"],
        start: "2021-01-14T10:30:00Z", end: "2021-01-14T12:15:23Z") }"""
    # Project 3 (another organization) is ignored, so its r3 does not count.
    assert (await b.data(q))["releasesHaveHealthData"] == ["r1", "r2"]


# -- 5.7 get_changed_project_release_model_adoptions ----------------------------------------


async def _write_5_7(b):
    # now − 72 h = 01-11T12:30, widened to the hour: buckets from 01-11T12:00 to 01-14T13:00.
    await b.write(
        session(WEB, "r1", ts("2021-01-11T12:10:00Z")),
        session(WEB, "r2", ts("2021-01-11T11:59:00Z")),  # bucket 11:00: outside
        session(API, "r3", ts("2021-01-14T12:45:00Z")),  # bucket 12:00 contains now
        session(SHOP, "r4", ts("2021-01-14T12:00:00Z")),
    )


async def test_changed_release_adoptions():
    b = memory_store()
    await _write_5_7(b)
    assert await changed_release_adoptions(b.store, [WEB, API], now=NOW) == [(WEB, "r1"), (API, "r3")]
    assert await changed_release_adoptions(b.store, [], now=NOW) == []


async def test_changed_release_adoptions_graphql(make_app, database_url):
    b = await backend(make_app, database_url)
    await _write_5_7(b)
    q = """{ changedReleaseAdoptions(projectIds: ["1", "2", "3"], now: "2021-01-14T12:30:00Z") {
        projectId version } }"""
    assert (await b.data(q))["changedReleaseAdoptions"] == [
        {"projectId": "1", "version": "r1"},
        {"projectId": "2", "version": "r3"},
    ]


# -- 5.9 releases count per project, in GraphQL ---------------------------------------------


async def test_releases_count_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        session(WEB, "a", NOW - 3600, user="u1"),
        session(WEB, "b", NOW - 3600, user="u2", status="crashed", sid=sid(1)),  # all users crashed
        session(WEB, "c", NOW - 3 * 86400, user="u3"),  # outside 24 h, inside 7d
        session(API, "a", NOW - 60, user="u4"),
    )
    # Per project, one store call for both projects.
    assert await releases_count_per_project(b.store, [WEB, API, 99], now=NOW) == {WEB: 2, API: 1, 99: 0}
    q = """query($scope: ReleaseSort, $period: String) {
        a: project(id: "1") { releasesCount(scope: $scope, period: $period, now: "2021-01-14T12:30:00Z") }
        b: project(id: "2") { releasesCount(scope: $scope, period: $period, now: "2021-01-14T12:30:00Z") }
    }"""
    data = await b.data(q)
    assert (data["a"]["releasesCount"], data["b"]["releasesCount"]) == (2, 1)
    # crash_free_users counts users − crashed users > 0: release b (1 − 1 = 0) is left out.
    data = await b.data(q, scope="CRASH_FREE_USERS")
    assert data["a"]["releasesCount"] == 1
    data = await b.data(q, period="7d")
    assert data["a"]["releasesCount"] == 3
    body = await b.gql(q, period="5h")
    assert body["errors"][0]["message"] == "Invalid stats period"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
