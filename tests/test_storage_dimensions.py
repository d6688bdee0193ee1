"""Client-dimension series (storage/sql/dimensions.py): every quantity per SDK, OS and
browser; base questions unchanged and as cheap as without dimensions; the cardinality cap.

The data (project web, release r1, hour 2021-01-14T10:00, worked by hand):

    #  user  client                     status
    1  u1    cocoa, iOS 17              exited
    2  u1    cocoa, iOS 17              crashed
    3  u1    cocoa, iOS 16              exited
    4  u3    cocoa, iOS 16              exited
    5  u4    android, Android 14        exited
    6  u5    android, Android 14        crashed
    7  u6    browser, Windows 10/Chrome crashed
    8  u7    (nothing known)            exited

Base: 8 sessions, 3 crashed, 6 users. iOS: 4 sessions, 1 crashed (75 % crash free),
users {u1, u3} = 2 of which 1 crashed (50 %); by major iOS 17 has 1 user and iOS 16 has 2
(u1 is in both: the iOS total is their union, 2, not their sum, 3).
"""

from __future__ import annotations

from typing import Any

import pytest

from storage.engine import StatementCounter
from storage.sql.dimensions import ClientDimensionError, MixedDimensionFamiliesError
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    NO_DIMENSIONS,
    AggregateQuery,
    ClientDimensions,
    Cond,
    GroupKey,
    Quantity,
    SessionIncrement,
)
from tests.backend_support import API, WEB, Backend, backend, session, sid, ts

IOS17 = ClientDimensions("sentry.cocoa", "iOS", "iOS 17")
IOS16 = ClientDimensions("sentry.cocoa", "iOS", "iOS 16")
ANDROID = ClientDimensions("sentry.java.android", "Android", "Android 14")
CHROME = ClientDimensions("sentry.javascript.browser", "Windows", "Windows 10", "Chrome", "Chrome 120")
AT = ts("2021-01-14T10:00:00Z")
START, END = int(ts("2021-01-14T00:00:00Z")), int(ts("2021-01-15T00:00:00Z"))
ALL = frozenset({Quantity.COUNTERS, Quantity.ERRORS, Quantity.USERS, Quantity.USER_STATUSES})


def with_dims(inc: SessionIncrement, dims: ClientDimensions) -> SessionIncrement:
    inc.dimensions = dims
    return inc


def sessions(dimensions: bool = True) -> list[SessionIncrement]:
    rows: list[tuple[str, ClientDimensions, str]] = [
        ("u1", IOS17, "exited"),
        ("u1", IOS17, "crashed"),
        ("u1", IOS16, "exited"),
        ("u3", IOS16, "exited"),
        ("u4", ANDROID, "exited"),
        ("u5", ANDROID, "crashed"),
        ("u6", CHROME, "crashed"),
        ("u7", NO_DIMENSIONS, "exited"),
    ]
    return [
        with_dims(
            session(WEB, "r1", AT + i, user=user, status=status, sid=sid(i), duration=10.0),
            dims if dimensions else NO_DIMENSIONS,
        )
        for i, (user, dims, status) in enumerate(rows, start=1)
    ]


def query(granularity: int = HOUR, **kwargs: Any) -> AggregateQuery:
    return AggregateQuery(
        project_ids=(WEB,), start=START, end=END, granularity=granularity, quantities=ALL, **kwargs
    )


@pytest.fixture
async def b(make_app: Any, database_url: str) -> Backend:
    handle = await backend(make_app, database_url)
    await handle.write(*sessions())
    return handle


def summary(agg: Any) -> tuple[int, int, int, int, int]:
    return (agg.counters.started, agg.counters.crashed, agg.errored_set, agg.users.all, agg.users.crashed)


@pytest.mark.parametrize("granularity", [HOUR, DAY])
async def test_group_by_os_name_sums_majors_and_unites_users(b: Backend, granularity: int) -> None:
    result = await b.store.aggregate(query(granularity, group_by=("os_name",)))
    got = {key.os_name: summary(agg) for key, agg in result.totals.items()}
    # (sessions, crashed, error set, users, crashed users)
    assert got == {"iOS": (4, 1, 1, 2, 1), "Android": (2, 1, 1, 2, 1), "Windows": (1, 1, 1, 1, 1)}


async def test_group_by_os_major(b: Backend) -> None:
    result = await b.store.aggregate(query(group_by=("os_name", "os_major")))
    got = {(k.os_name, k.os_major): summary(agg) for k, agg in result.totals.items()}
    assert got == {
        ("iOS", "iOS 17"): (2, 1, 1, 1, 1),
        ("iOS", "iOS 16"): (2, 0, 0, 2, 0),
        ("Android", "Android 14"): (2, 1, 1, 2, 1),
        ("Windows", "Windows 10"): (1, 1, 1, 1, 1),
    }


async def test_sdk_and_browser_families(b: Backend) -> None:
    sdks = await b.store.aggregate(query(group_by=("sdk_name",)))
    assert {k.sdk_name: a.counters.started for k, a in sdks.totals.items()} == {
        "sentry.cocoa": 4,
        "sentry.java.android": 2,
        "sentry.javascript.browser": 1,
    }
    browsers = await b.store.aggregate(query(group_by=("browser_name", "browser_major")))
    assert {(k.browser_name, k.browser_major): summary(a) for k, a in browsers.totals.items()} == {
        ("Chrome", "Chrome 120"): (1, 1, 1, 1, 1)
    }


async def test_filter_by_os_with_release_grouping_and_series(b: Backend) -> None:
    flt = Cond("os_name", ("iOS",))
    totals = await b.store.aggregate(query(group_by=("release",), filter=flt))
    assert {k.release: summary(a) for k, a in totals.totals.items()} == {"r1": (4, 1, 1, 2, 1)}
    series = await b.store.aggregate(query(filter=flt, interval=HOUR))
    assert {bucket: summary(a) for bucket, a in series.series[GroupKey()].items()} == {
        int(AT): (4, 1, 1, 2, 1)
    }
    durations = await b.store.aggregate(
        AggregateQuery((WEB,), START, END, HOUR, frozenset({Quantity.DURATIONS}), filter=flt)
    )
    # Durations of the exited iOS sessions 1, 3, 4 (crashed ones record none).
    assert durations.totals[GroupKey()].durations.count == 3
    negated = await b.store.aggregate(query(filter=Cond("os_name", ("iOS",), negate=True)))
    # Another known OS: Android and Windows; session 8 has no OS and no OS series.
    assert summary(negated.totals[GroupKey()]) == (3, 2, 2, 3, 2)


async def test_base_questions_are_unchanged(b: Backend) -> None:
    result = await b.store.aggregate(query(group_by=("release",)))
    assert summary(result.totals[GroupKey(release="r1")]) == (8, 3, 3, 6, 3)
    minute = await b.store.aggregate(query(MINUTE, group_by=("release",)))
    assert summary(minute.totals[GroupKey(release="r1")]) == (8, 3, 3, 6, 3)
    series = await b.store.series([WEB])
    assert [(s.release, s.environment) for s in series] == [("r1", "production")]
    assert await b.store.known_releases(WEB, ["r1", "r2"]) == {"r1"}


async def test_one_family_per_query_and_no_minutes(b: Backend) -> None:
    with pytest.raises(MixedDimensionFamiliesError, match="one family"):
        await b.store.aggregate(query(group_by=("os_name",), filter=Cond("browser_name", ("Chrome",))))
    with pytest.raises(ClientDimensionError, match="at least 1h"):
        await b.store.aggregate(query(MINUTE, group_by=("os_name",)))


async def test_base_query_costs_the_same_statements_and_reads_no_client_series(
    make_app: Any, database_url: str
) -> None:
    # The same sessions in two projects, web without dimensions and api with them.
    handle = await backend(make_app, database_url)
    await handle.write(*sessions(dimensions=False))
    with_dimensions = sessions()
    for inc in with_dimensions:
        inc.project_id = API
    await handle.write(*with_dimensions)
    counts = []
    for project in (WEB, API):
        counter = StatementCounter(handle.store.engine)
        try:
            result = await handle.store.aggregate(
                AggregateQuery((project,), START, END, HOUR, ALL, group_by=("release",), interval=HOUR)
            )
        finally:
            counter.close()
        # Not doubled: the client series of api are not read.
        assert summary(result.series[GroupKey(release="r1")][int(AT)]) == (8, 3, 3, 6, 3)
        counts.append(counter.count)
        # Every statement selects its series with `client = 0`.
        assert all("client = " in s for s in counter.statements), counter.statements
    assert counts[0] == counts[1] == 2  # counters; sketches (error set, users, duration bins)


async def test_values_over_the_cap_fold_into_other_and_are_counted(make_app: Any, database_url: str) -> None:
    b = await backend(make_app, database_url, dimension_values_per_project=2)
    await b.write(*sessions())
    # OS values in sorted order of first sighting: (Android, Android 14), (Windows, Windows 10),
    # (iOS, iOS 16), (iOS, iOS 17): the cap of 2 keeps the first two (values are created
    # in sorted order within a batch) and folds both iOS majors into `other`.
    result = await b.store.aggregate(query(group_by=("os_name", "os_major")))
    got = {(k.os_name, k.os_major): summary(a) for k, a in result.totals.items()}
    assert got == {
        ("Android", "Android 14"): (2, 1, 1, 2, 1),
        ("Windows", "Windows 10"): (1, 1, 1, 1, 1),
        ("other", "other"): (4, 1, 1, 2, 1),
    }
    # SDKs (3 values) fold sentry.javascript.browser; browsers (1) fold nothing. Sessions
    # 1-4 (iOS) and 7 (the third SDK) have a folded value: 5 increments.
    outcomes = await b.store.outcome_totals()
    assert [(kind, reason, n) for _p, _t, kind, reason, n in outcomes if reason == "dimension_folded"] == [
        ("normalized", "dimension_folded", 5)
    ]


RELEASE_FIELDS = """version
    sessionTimeBounds(now: "2021-01-15T00:00:00Z") { sessionsLowerBound sessionsUpperBound }
    crashFreeBreakdown(start: "2021-01-13T00:00:00Z", now: "2021-01-15T00:00:00Z") {
      date totalSessions crashFreeUsers crashFreeSessions }
    stats(stat: USERS, interval: "1h", start: "2021-01-14T00:00:00Z", end: "2021-01-15T00:00:00Z") {
      total durationP50 totals { total healthy crashed } }
    health(now: "2021-01-15T00:00:00Z") { totalSessions totalUsers crashFreeUsers }
    adoption(now: "2021-01-15T00:00:00Z") { adoption users24h sessions24h }"""


async def test_release_fields_cost_the_same_with_dimensioned_data(make_app: Any, database_url: str) -> None:
    # The same sessions in web (no dimensions) and api (with them): every release field
    # answers the same numbers with the same number of statements.
    handle = await backend(make_app, database_url)
    await handle.write(*sessions(dimensions=False))
    with_dimensions = sessions()
    for inc in with_dimensions:
        inc.project_id = API
    await handle.write(*with_dimensions)
    answers, counts = [], []
    # The first request also reads the token, which the process then keeps
    # (storage/read_cache.py): compare requests in the steady state.
    await handle.data("{ __typename }")
    for project in (WEB, API):
        counter = StatementCounter(handle.store.engine)
        try:
            data = await handle.data(
                f'{{ releases(projectIds: ["{project}"]) {{ nodes {{ {RELEASE_FIELDS} }} }} }}'
            )
        finally:
            counter.close()
        answers.append(data)
        counts.append(counter.count)
    assert answers[0] == answers[1]
    [node] = answers[0]["releases"]["nodes"]
    assert node["health"]["totalSessions"] == 8 and node["health"]["totalUsers"] == 6
    assert counts[0] == counts[1]
