"""Session time bounds (release-health.md 5.5) and oldest health data (5.8)."""

from __future__ import annotations

from resolvers.bounds import NO_BOUNDS, SessionTimeBounds, oldest_health_data, session_time_bounds
from tests.backend_support import API, WEB, backend, memory_backend, memory_store, session, ts

NOW = ts("2021-01-14T12:30:00Z")


# -- 5.5 get_release_sessions_time_bounds -------------------------------------------------


async def test_time_bounds_example_floor_to_hours():
    # Spec example: sessions at 10:15 and 12:27 -> hourly bucket starts 10:00 and 12:00.
    b = memory_store()
    await b.write(
        session(WEB, "foo@1", ts("2021-01-14T10:15:00Z")),
        session(WEB, "foo@1", ts("2021-01-14T12:27:00Z")),
        session(WEB, "foo@2", ts("2021-01-13T08:00:00Z")),  # another release: not counted
    )
    found = await session_time_bounds(b.store, [(WEB, "foo@1")], now=NOW)
    bounds = found[(WEB, "foo@1")]
    assert bounds == SessionTimeBounds(int(ts("2021-01-14T10:00:00Z")), int(ts("2021-01-14T12:00:00Z")))
    assert bounds.sessions_lower_bound == "2021-01-14T10:00:00Z"
    assert bounds.sessions_upper_bound == "2021-01-14T12:00:00Z"


async def test_time_bounds_null_without_data_and_per_pair():
    b = memory_store()
    await b.write(
        session(WEB, "foo@1", ts("2021-01-14T10:15:00Z")),
        session(API, "foo@1", ts("2021-01-12T03:59:59Z")),
    )
    found = await session_time_bounds(b.store, [(WEB, "foo@1"), (API, "foo@1"), (WEB, "unknown")], now=NOW)
    assert found[(WEB, "unknown")] == NO_BOUNDS
    assert found[(WEB, "unknown")].sessions_lower_bound is None
    # Each pair is bounded by its own project's data: API's session is at 03:59:59 -> 03:00.
    assert found[(API, "foo@1")] == SessionTimeBounds(
        int(ts("2021-01-12T03:00:00Z")), int(ts("2021-01-12T03:00:00Z"))
    )
    assert found[(WEB, "foo@1")].lower == ts("2021-01-14T10:00:00Z")


async def test_time_bounds_count_duration_only_data():
    # An `exited` update with init:false adds a duration but no counter: it still counts.
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T09:05:00Z"), status="exited", init=False, duration=30),
        session(WEB, "r", ts("2021-01-14T11:45:00Z")),
    )
    found = await session_time_bounds(b.store, [(WEB, "r")], now=NOW)
    assert found[(WEB, "r")] == SessionTimeBounds(
        int(ts("2021-01-14T09:00:00Z")), int(ts("2021-01-14T11:00:00Z"))
    )


async def test_time_bounds_empty_release_and_environment_filters():
    b = memory_store()
    await b.write(
        session(WEB, "a", ts("2021-01-10T05:30:00Z"), env="staging"),
        session(WEB, "b", ts("2021-01-14T11:10:00Z"), env="production"),
        session(WEB, "b", ts("2021-01-11T01:00:00Z"), env=None),
    )
    # Empty release: every release of the project; no environment filter.
    every = await session_time_bounds(b.store, [(WEB, "")], now=NOW)
    assert every[(WEB, "")] == SessionTimeBounds(
        int(ts("2021-01-10T05:00:00Z")), int(ts("2021-01-14T11:00:00Z"))
    )
    # An empty environments list is no filter either (upstream: "when non-empty").
    assert (await session_time_bounds(b.store, [(WEB, "")], now=NOW, environments=[])) == every
    staging = await session_time_bounds(b.store, [(WEB, ""), (WEB, "b")], now=NOW, environments=["staging"])
    assert staging[(WEB, "")] == SessionTimeBounds(
        int(ts("2021-01-10T05:00:00Z")), int(ts("2021-01-10T05:00:00Z"))
    )
    assert staging[(WEB, "b")] == NO_BOUNDS
    # Release b in production only: the null-environment session at 01:00 does not match.
    prod = await session_time_bounds(b.store, [(WEB, "b")], now=NOW, environments=["production"])
    assert prod[(WEB, "b")].lower == prod[(WEB, "b")].upper == ts("2021-01-14T11:00:00Z")


async def test_time_bounds_window_ends_ten_seconds_after_now():
    b = memory_store()
    await b.write(session(WEB, "r", ts("2021-01-14T12:00:02Z")))
    # now 11:59:55: now + 10 s = 12:00:05, ceil to the hour 13:00 -> bucket 12:00 included.
    found = await session_time_bounds(b.store, [(WEB, "r")], now=ts("2021-01-14T11:59:55Z"))
    assert found[(WEB, "r")].upper == ts("2021-01-14T12:00:00Z")
    # now 11:59:45: now + 10 s = 11:59:55, ceil 12:00 (exclusive) -> no data.
    found = await session_time_bounds(b.store, [(WEB, "r")], now=ts("2021-01-14T11:59:45Z"))
    assert found[(WEB, "r")] == NO_BOUNDS


async def test_time_bounds_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        session(WEB, "foo@1", ts("2021-01-14T10:15:00Z")),
        session(WEB, "foo@1", ts("2021-01-14T12:27:00Z")),
    )
    q = """query($v: String!) { release(projectId: "1", version: $v) {
        sessionTimeBounds(now: "2021-01-14T12:30:00Z") { sessionsLowerBound sessionsUpperBound } } }"""
    data = await b.data(q, v="foo@1")
    assert data["release"]["sessionTimeBounds"] == {
        "sessionsLowerBound": "2021-01-14T10:00:00Z",
        "sessionsUpperBound": "2021-01-14T12:00:00Z",
    }
    data = await b.data(q, v="nope")
    assert data["release"]["sessionTimeBounds"] == {
        "sessionsLowerBound": None,
        "sessionsUpperBound": None,
    }
    # Another organization's token: the project does not exist for it.
    other = await b.gql(q, token=b.other_token, v="foo@1")
    assert other["data"] == {"release": None}


# -- 5.8 get_oldest_health_data_for_releases ----------------------------------------------

NOW_APRIL = ts("2021-04-10T12:30:00Z")
# now − 90 d = 2021-01-10T12:30, widened to the hour: buckets from 2021-01-10T12:00.


async def test_oldest_health_data_window_and_hour_floor():
    b = memory_store()
    await b.write(
        session(WEB, "r1", ts("2021-01-10T11:59:00Z")),  # bucket 11:00 < 12:00: outside
        session(WEB, "r1", ts("2021-01-10T12:10:00Z")),  # bucket 12:00: the oldest inside
        session(WEB, "r1", ts("2021-03-01T00:00:00Z")),
        session(WEB, "r2", ts("2021-04-10T12:29:00Z")),  # bucket containing now
    )
    found = await oldest_health_data(b.store, [(WEB, "r1"), (WEB, "r2"), (WEB, "r3")], now=NOW_APRIL)
    assert found == {
        (WEB, "r1"): int(ts("2021-01-10T12:00:00Z")),
        (WEB, "r2"): int(ts("2021-04-10T12:00:00Z")),
    }  # r3 has no data: absent


async def test_oldest_health_data_cross_combinations_and_counters_only():
    b = memory_store()
    await b.write(
        session(WEB, "r2", ts("2021-04-01T08:20:00Z")),  # asked as (API, r2), exists for WEB
        session(API, "r1", ts("2021-04-02T09:00:00Z"), status="exited", init=False, duration=5),
    )
    found = await oldest_health_data(b.store, [(WEB, "r1"), (API, "r2")], now=NOW_APRIL)
    # project IN {WEB, API} AND release IN {r1, r2}: (WEB, r2) is returned although not asked;
    # (API, r1) has a duration only, which is not counter data.
    assert found == {(WEB, "r2"): int(ts("2021-04-01T08:00:00Z"))}


async def test_oldest_health_data_graphql(make_app, database_url):
    b = await backend(make_app, database_url)
    await b.write(session(WEB, "r1", ts("2021-03-01T10:45:00Z")))
    q = """{ oldestHealthData(releases: [{projectId: "1", version: "r1"}, {projectId: "3", version: "r1"}],
        now: "2021-04-10T12:30:00Z") { release { projectId version } oldest } }"""
    data = await b.data(q)
    # Project 3 belongs to another organization: silently absent.
    assert data["oldestHealthData"] == [
        {"release": {"projectId": "1", "version": "r1"}, "oldest": "2021-03-01T10:00:00Z"}
    ]
