"""Durations: exact count, sum, min and max beside the sketch bins."""

from __future__ import annotations

from storage.sketch import bin_of
from storage.types import DAY, HOUR, Durations, GroupKey, Quantity
from tests.store_contract.support import T0, inc, query, write

DURATIONS = {Quantity.DURATIONS}


async def test_durations_count_sum_min_max_and_bins(subject):
    await write(
        subject.store,
        inc(T0 + 1, started_count=1, duration=10.0),
        inc(T0 + 2, duration=20.0),  # an exited update of a session started earlier
        inc(T0 + HOUR, duration=60.0),
        inc(T0 + HOUR, duration=60.5, release="2.0"),
        # Not recorded: infinite, negative, beyond 2**32 seconds.
        inc(T0 + 3, duration=float("inf")),
        inc(T0 + 4, duration=-1.0),
        inc(T0 + 5, duration=2.0**33),
    )
    result = await subject.store.aggregate(
        query(T0, T0 + DAY, quantities=DURATIONS, group_by=("release",), projects=(1,))
    )
    assert result.totals[GroupKey(release="1.0")].durations == Durations(
        count=3, sum=90.0, min=10.0, max=60.0, bins={bin_of(10.0): 1, bin_of(20.0): 1, bin_of(60.0): 1}
    )
    assert result.totals[GroupKey(release="2.0")].durations == Durations(
        1, 60.5, 60.5, 60.5, {bin_of(60.5): 1}
    )
    series = await subject.store.aggregate(
        query(T0, T0 + DAY, quantities=DURATIONS, interval=HOUR, projects=(1,))
    )
    hours = series.series[GroupKey()]
    assert (hours[T0].durations.count, hours[T0].durations.sum, hours[T0].durations.max) == (2, 30.0, 20.0)
    assert hours[T0 + HOUR].durations == Durations(2, 120.5, 60.0, 60.5, {bin_of(60.0): 1, bin_of(60.5): 1})


async def test_equal_durations_share_a_bin(subject):
    await write(subject.store, *(inc(T0 + i, duration=30.0) for i in range(4)), inc(T0, duration=0.0))
    result = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=DURATIONS))
    assert result.totals[GroupKey()].durations == Durations(5, 120.0, 0.0, 30.0, {bin_of(30.0): 4, 0: 1})


async def test_duration_only_data_is_no_counter_data(subject):
    await write(subject.store, inc(T0, duration=5.0))
    counters = await subject.store.aggregate(query(T0, T0 + HOUR, quantities={Quantity.COUNTERS}))
    assert counters.totals == {}
    both = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.COUNTERS, Quantity.DURATIONS})
    )
    agg = both.totals[GroupKey()]
    assert (agg.counters.started, agg.durations.count, agg.durations.sum) == (0, 1, 5.0)


async def test_counter_only_data_has_empty_durations(subject):
    await write(subject.store, inc(T0, started_count=1))
    result = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.COUNTERS, Quantity.DURATIONS})
    )
    assert result.totals[GroupKey()].durations == Durations()
    only = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=DURATIONS))
    assert only.totals == {}
