"""Distinct counts: users per tag and the error set are unions over buckets and series."""

from __future__ import annotations

from storage.types import (
    DAY,
    HOUR,
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    GroupKey,
    Quantity,
    Users,
)
from tests.store_contract.conftest import API, WEB
from tests.store_contract.support import T0, inc, query, sid, write

USERS = {Quantity.USERS, Quantity.USER_STATUSES}
ERRORS = {Quantity.ERRORS}


async def _users(store):
    await write(
        store,
        # Hour T0: a (seen), b (errored, abnormal, ANR in the foreground).
        inc(T0 + 1, user="a", tags=USER_SEEN),
        inc(T0 + 2, user="b", tags=USER_SEEN | USER_ERRORED | USER_ABNORMAL | USER_ANR_FOREGROUND),
        # Hour T0+1h: a again (errored, crashed), c (ANR in the background), d (unhandled).
        inc(T0 + HOUR + 1, user="a", tags=USER_SEEN | USER_ERRORED | USER_CRASHED),
        inc(T0 + HOUR + 2, user="c", tags=USER_SEEN | USER_ANR_BACKGROUND),
        inc(T0 + HOUR + 3, user="d", tags=USER_SEEN | USER_ERRORED | USER_UNHANDLED),
        # The same user twice in one bucket: tags are OR-ed.
        inc(T0 + HOUR + 4, user="d", tags=USER_SEEN),
    )


async def test_users_per_tag_are_unions_across_buckets(subject):
    await _users(subject.store)
    result = await subject.store.aggregate(query(T0, T0 + DAY, quantities=USERS))
    # a, b, c, d; errored a b d; crashed a; abnormal b; unhandled d; ANR b c; foreground b.
    assert result.totals[GroupKey()].users == Users(4, 3, 1, 1, 1, 2, 1)
    assert result.approximate == set()


async def test_a_plain_user_count_leaves_the_statuses_unread(subject):
    await _users(subject.store)
    result = await subject.store.aggregate(query(T0, T0 + DAY, quantities={Quantity.USERS}))
    assert result.totals[GroupKey()].users == Users(all=4)
    statuses = await subject.store.aggregate(query(T0, T0 + DAY, quantities={Quantity.USER_STATUSES}))
    assert statuses.totals[GroupKey()].users == Users(0, 3, 1, 1, 1, 2, 1)


async def test_statuses_alone_find_only_buckets_with_a_tagged_user(subject):
    await write(subject.store, inc(T0 + 1, user="a", tags=USER_SEEN))
    await write(subject.store, inc(T0 + HOUR + 1, user="b", tags=USER_SEEN | USER_CRASHED))
    result = await subject.store.aggregate(
        query(T0, T0 + DAY, quantities={Quantity.USER_STATUSES}, interval=HOUR)
    )
    assert {b: agg.users for b, agg in result.series[GroupKey()].items()} == {T0 + HOUR: Users(crashed=1)}


async def test_users_per_series_bucket(subject):
    await _users(subject.store)
    result = await subject.store.aggregate(query(T0, T0 + DAY, quantities=USERS, interval=HOUR))
    assert {b: agg.users for b, agg in result.series[GroupKey()].items()} == {
        T0: Users(all=2, errored=1, abnormal=1, anr=1, anr_foreground=1),  # a, b
        T0 + HOUR: Users(all=3, errored=2, crashed=1, unhandled=1, anr=1),  # a, c, d
    }
    # At day granularity both hours are one bucket: the union again.
    day = await subject.store.aggregate(query(T0, T0 + DAY, granularity=DAY, quantities=USERS, interval=DAY))
    assert day.series[GroupKey()][T0].users == Users(4, 3, 1, 1, 1, 2, 1)


async def test_users_union_across_series_of_a_group(subject):
    await write(
        subject.store,
        inc(T0, user="u1", tags=USER_SEEN, release="1.0"),
        inc(T0, user="u1", tags=USER_SEEN | USER_ERRORED | USER_CRASHED, release="2.0", env=None),
        inc(T0, user="u2", tags=USER_SEEN, release="2.0"),
        inc(T0, user="u1", tags=USER_SEEN, project=API),
    )
    by_project = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities=USERS, group_by=("project_id",))
    )
    assert by_project.totals[GroupKey(project_id=WEB)].users == Users(all=2, errored=1, crashed=1)
    assert by_project.totals[GroupKey(project_id=API)].users == Users(all=1)
    by_release = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=USERS, group_by=("release",)))
    assert by_release.totals[GroupKey(release="1.0")].users == Users(all=1)  # u1 in two projects: once
    assert by_release.totals[GroupKey(release="2.0")].users == Users(all=2, errored=1, crashed=1)


async def test_error_set_counts_distinct_sessions(subject):
    await write(
        subject.store,
        # One session errored in two updates and two buckets; another one in the second.
        inc(T0 + 5, started_count=1, sid=sid(1)),
        inc(T0 + HOUR + 5, sid=sid(1)),
        inc(T0 + HOUR + 6, started_count=1, sid=sid(2)),
        inc(T0 + HOUR + 7, sid=sid(2), release="2.0"),
        inc(T0 + HOUR + 8, sid=sid(3), project=API),
    )
    totals = await subject.store.aggregate(query(T0, T0 + DAY, quantities=ERRORS, projects=(WEB,)))
    assert totals.totals[GroupKey()].errored_set == 2
    series = await subject.store.aggregate(
        query(T0, T0 + DAY, quantities=ERRORS, interval=HOUR, projects=(WEB,))
    )
    assert {b: a.errored_set for b, a in series.series[GroupKey()].items()} == {T0: 1, T0 + HOUR: 2}
    by_release = await subject.store.aggregate(
        query(T0, T0 + DAY, quantities=ERRORS, group_by=("project_id", "release"))
    )
    assert {(k.project_id, k.release): a.errored_set for k, a in by_release.totals.items()} == {
        (WEB, "1.0"): 2,
        (WEB, "2.0"): 1,
        (API, "1.0"): 1,
    }
    assert totals.approximate == set()


async def test_users_and_errors_alone_make_a_group_present(subject):
    await write(subject.store, inc(T0, user="u", tags=USER_SEEN, release="users-only"))
    result = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.COUNTERS, Quantity.USERS}, group_by=("release",))
    )
    agg = result.totals[GroupKey(release="users-only")]
    assert agg.users.all == 1
    assert agg.counters.started == 0
    # Without USERS asked the release has no data.
    none = await subject.store.aggregate(query(T0, T0 + HOUR, quantities={Quantity.COUNTERS}))
    assert none.totals == {}
