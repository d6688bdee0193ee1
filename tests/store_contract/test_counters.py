"""Counters: sums per group, range and granularity; intervals; what is absent."""

from __future__ import annotations

from storage.types import DAY, HOUR, MINUTE, Aggregate, Counters, GroupKey, Quantity
from tests.store_contract.conftest import API, WEB
from tests.store_contract.support import T0, inc, query, write

COUNTERS = {Quantity.COUNTERS}


async def _four_updates(store):
    await write(
        store,
        inc(T0 + 10, started_count=1),
        inc(T0 + 70, started_count=1, crashed=1),
        inc(T0 + 3700, started_count=1, abnormal=1),
        inc(T0 + DAY + 5, started_count=1, unhandled=1, errored_preaggr=2),
    )


async def test_a_query_at_each_granularity_sees_increments_bucketed_at_it(subject):
    await _four_updates(subject.store)
    # Minute buckets T0 and T0+60 lie in [T0, T0+120).
    minute = await subject.store.aggregate(query(T0, T0 + 120, granularity=MINUTE, quantities=COUNTERS))
    assert minute.totals == {GroupKey(): _agg(started=2, crashed=1)}
    # Hour buckets T0 and T0+3600.
    hour = await subject.store.aggregate(query(T0, T0 + 2 * HOUR, quantities=COUNTERS))
    assert hour.totals[GroupKey()].counters == Counters(started=3, crashed=1, abnormal=1)
    # The update at T0+3700 is in the hour bucket T0+3600 but outside [T0, T0+3600).
    first_hour = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS))
    assert first_hour.totals[GroupKey()].counters == Counters(started=2, crashed=1)
    day = await subject.store.aggregate(query(T0, T0 + 2 * DAY, granularity=DAY, quantities=COUNTERS))
    assert day.totals[GroupKey()].counters == Counters(4, 1, 1, 1, 2)
    # A day bucket counts when its start is in the range, whatever the range's end.
    day_one = await subject.store.aggregate(
        query(T0 + DAY, T0 + 2 * DAY, granularity=DAY, quantities=COUNTERS)
    )
    assert day_one.totals[GroupKey()].counters == Counters(1, 0, 0, 1, 2)


async def test_interval_groups_buckets_into_series(subject):
    await _four_updates(subject.store)
    result = await subject.store.aggregate(query(T0, T0 + 2 * DAY, quantities=COUNTERS, interval=HOUR))
    assert result.totals == {}
    assert result.series == {
        GroupKey(): {
            T0: _agg(started=2, crashed=1),
            T0 + HOUR: _agg(started=1, abnormal=1),
            T0 + DAY: _agg(started=1, unhandled=1, errored_preaggr=2),
        }
    }
    # Minute buckets at 6-hour steps: everything of the first day falls into T0.
    coarse = await subject.store.aggregate(
        query(T0, T0 + DAY, granularity=MINUTE, quantities=COUNTERS, interval=6 * HOUR)
    )
    assert coarse.series == {GroupKey(): {T0: _agg(started=3, crashed=1, abnormal=1)}}


async def test_groups_by_project_release_and_environment(subject):
    await write(
        subject.store,
        inc(T0, started_count=1, release="1.0", env="production"),
        inc(T0, started_count=2, release="1.0", env=None),
        inc(T0, started_count=4, release="2.0", env="production", project=API),
        inc(T0, started_count=8, release="2.0", env="production", project=API, crashed=1),
    )
    result = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("project_id", "release", "environment"))
    )
    assert result.totals == {
        GroupKey(WEB, "1.0", "production"): _agg(started=1),
        GroupKey(WEB, "1.0", None): _agg(started=2),
        GroupKey(API, "2.0", "production"): _agg(started=12, crashed=1),
    }
    by_release = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("release",))
    )
    assert {k.release: v.counters.started for k, v in by_release.totals.items()} == {"1.0": 3, "2.0": 12}
    # Only the asked projects are read.
    web_only = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS, projects=(WEB,)))
    assert web_only.totals[GroupKey()].counters.started == 3


async def test_groups_without_data_are_absent(subject):
    await write(
        subject.store,
        # An update that only joins the error set: no positive counter.
        inc(T0, release="quiet", sid="00000000-0000-4000-8000-000000000001"),
        inc(T0, release="loud", started_count=1),
    )
    result = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("release",)))
    assert set(result.totals) == {GroupKey(release="loud")}
    # Asked for errors too, the quiet release is present, with zero counters.
    both = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.COUNTERS, Quantity.ERRORS}, group_by=("release",))
    )
    assert both.totals[GroupKey(release="quiet")].counters == Counters()
    assert both.totals[GroupKey(release="quiet")].errored_set == 1


async def test_empty_questions_have_empty_answers(subject):
    await _four_updates(subject.store)
    for q in (
        query(T0, T0 + DAY, projects=()),
        query(T0 + HOUR, T0 + HOUR),
        query(T0 + HOUR, T0),
        query(T0 - DAY, T0),
        query(T0, T0 + DAY, projects=(API,)),
    ):
        result = await subject.store.aggregate(q)
        assert (result.totals, result.series, result.approximate) == ({}, {}, set()), q


async def test_writes_add_up_across_calls(subject):
    for _ in range(3):
        await write(subject.store, inc(T0 + 5, started_count=1, crashed=1), inc(T0 + 65, started_count=2))
    result = await subject.store.aggregate(query(T0, T0 + DAY, granularity=DAY, quantities=COUNTERS))
    assert result.totals[GroupKey()].counters == Counters(started=9, crashed=3)


def _agg(**counters):
    return Aggregate(counters=Counters(**counters))
