"""A series query that asks for its totals answers both from one read, each equal to what
its own query answers; user presence finds groups without counting their users."""

from __future__ import annotations

from dataclasses import replace

from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    Aggregate,
    ClientDimensions,
    GroupKey,
    Quantity,
)
from tests.store_contract.conftest import API, WEB
from tests.store_contract.support import ALL, T0, inc, query, sid, write


async def _traffic(store):
    await write(
        store,
        # 1.0 in production over two hours, a user in both, durations in both.
        inc(T0 + 60, started_count=1, user="a", tags=USER_SEEN, duration=10.0),
        inc(T0 + 120, started_count=1, crashed=1, user="b", tags=USER_SEEN | USER_CRASHED, duration=3.5),
        inc(T0 + HOUR + 5, started_count=1, user="a", tags=USER_SEEN | USER_ERRORED, sid=sid(1)),
        inc(T0 + HOUR + 6, user="a", tags=USER_SEEN, sid=sid(1), duration=250.25),
        # 1.0 in staging: the same user "a" again (a union across series, not a sum).
        inc(T0 + HOUR + 60, env="staging", started_count=2, abnormal=1, user="a", tags=USER_SEEN),
        # 2.0 of another project: users only in its second hour, no counter there.
        inc(T0 + 30, project=API, release="2.0", started_count=3, errored_preaggr=1, duration=1.0),
        inc(T0 + HOUR + 30, project=API, release="2.0", user="c", tags=USER_SEEN),
    )


async def test_series_with_totals_equal_the_two_queries(subject):
    await _traffic(subject.store)
    for granularity, interval in ((HOUR, HOUR), (MINUTE, HOUR), (HOUR, DAY)):
        for group_by in ((), ("release",), ("project_id", "environment")):
            series_q = query(T0, T0 + DAY, granularity=granularity, group_by=group_by, interval=interval)
            both = await subject.store.aggregate(replace(series_q, totals=True))
            series = await subject.store.aggregate(series_q)
            totals = await subject.store.aggregate(replace(series_q, interval=None))
            assert both.series == series.series
            assert both.totals == totals.totals
            assert both.totals  # the case is not empty


async def test_totals_of_a_series_are_unions_and_sums(subject):
    await _traffic(subject.store)
    both = await subject.store.aggregate(
        replace(query(T0, T0 + DAY, group_by=("release",), interval=HOUR, quantities=ALL), totals=True)
    )
    one = both.totals[GroupKey(release="1.0")]
    assert (one.counters.started, one.counters.crashed, one.counters.abnormal) == (5, 1, 1)
    assert (one.users.all, one.users.crashed, one.users.errored) == (2, 1, 1)  # a and b
    assert one.errored_set == 1
    assert (one.durations.count, one.durations.min, one.durations.max) == (3, 3.5, 250.25)
    assert one.durations.sum == 263.75
    assert sum(one.durations.bins.values()) == 3
    assert sorted(both.series[GroupKey(release="1.0")]) == [T0, T0 + HOUR]


async def test_presence_finds_groups_with_users_without_counting_them(subject):
    await _traffic(subject.store)
    found = await subject.store.aggregate(
        query(T0, T0 + DAY, group_by=("release",), quantities={Quantity.USER_PRESENCE}, interval=HOUR)
    )
    assert {(k.release, b): a.has_users for k, a in found.series.items() for b, a in a.items()} == {
        ("1.0", T0): True,
        ("1.0", T0 + HOUR): True,
        ("2.0", T0 + HOUR): True,  # a user and no counter: present all the same
    }
    assert all(a.users.all == 0 for buckets in found.series.values() for a in buckets.values())
    # Beside counters: only the groups' flags differ, and a counted query agrees.
    mixed = await subject.store.aggregate(
        query(T0, T0 + DAY, group_by=("release",), quantities={Quantity.COUNTERS, Quantity.USER_PRESENCE})
    )
    assert {k.release: a.has_users for k, a in mixed.totals.items()} == {"1.0": True, "2.0": True}
    counted = await subject.store.aggregate(
        query(T0, T0 + DAY, group_by=("release",), quantities={Quantity.USERS, Quantity.USER_PRESENCE})
    )
    assert {k.release: (a.has_users, a.users.all) for k, a in counted.totals.items()} == {
        "1.0": (True, 2),
        "2.0": (True, 1),
    }
    nobody = await subject.store.aggregate(
        query(T0, T0 + HOUR, projects=(API,), group_by=("release",), quantities={Quantity.USER_PRESENCE})
    )
    assert nobody.totals == {}
    assert Aggregate().has_users is False and WEB != API


async def test_presence_of_whole_range_by_client_dimension_and_ungrouped(subject):
    ios = ClientDimensions(sdk_name="sentry.cocoa", os_name="iOS", os_major="iOS 17")
    android = ClientDimensions(sdk_name="sentry.java.android", os_name="Android", os_major="Android 14")
    await write(
        subject.store,
        inc(T0 + 60, started_count=1, dims=ios),  # no user
        inc(T0 + 90, started_count=1, user="a", tags=USER_SEEN, dims=android),
    )
    presence = {Quantity.USER_PRESENCE}
    by_os = await subject.store.aggregate(
        query(T0, T0 + DAY, group_by=("os_name",), quantities=presence | {Quantity.COUNTERS})
    )
    assert {k.os_name: a.has_users for k, a in by_os.totals.items()} == {"iOS": False, "Android": True}
    ungrouped = await subject.store.aggregate(query(T0, T0 + DAY, quantities=presence))
    assert {k: a.has_users for k, a in ungrouped.totals.items()} == {GroupKey(): True}
    later = await subject.store.aggregate(query(T0 + HOUR, T0 + DAY, quantities=presence))
    assert later.totals == {}
