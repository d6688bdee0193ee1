"""bucket_bounds: earliest and latest bucket with counter or duration data, per group."""

from __future__ import annotations

import pytest

from storage.types import DAY, HOUR, MINUTE, Cond, GroupKey, Quantity
from tests.store_contract.conftest import API, WEB
from tests.store_contract.support import T0, inc, query, sid, write

COUNTERS = {Quantity.COUNTERS}


async def _data(store):
    await write(
        store,
        inc(T0 + 10, started_count=1),
        inc(T0 + HOUR + 10, crashed=1),
        inc(T0 + 2 * HOUR + 5, started_count=1, release="2.0"),
        inc(T0 + 5 * HOUR, duration=3.0),  # duration only
        inc(T0 + 6 * HOUR, sid=sid(1), user="u", tags=1),  # neither counters nor durations
        inc(T0 + 3 * HOUR, started_count=1, project=API),
    )


async def test_bounds_per_group(subject):
    await _data(subject.store)
    bounds = await subject.store.bucket_bounds(
        query(T0, T0 + DAY, quantities=COUNTERS, group_by=("release",))
    )
    assert bounds == {
        GroupKey(release="1.0"): (T0, T0 + 3 * HOUR),
        GroupKey(release="2.0"): (T0 + 2 * HOUR,) * 2,
    }
    web = await subject.store.bucket_bounds(
        query(T0, T0 + DAY, quantities=COUNTERS, group_by=("project_id", "release"), projects=(WEB,))
    )
    assert web == {GroupKey(WEB, "1.0"): (T0, T0 + HOUR), GroupKey(WEB, "2.0"): (T0 + 2 * HOUR,) * 2}


async def test_bounds_by_quantity(subject):
    await _data(subject.store)
    q = dict(projects=(WEB,), filter=Cond("release", ("1.0",)))
    durations = await subject.store.bucket_bounds(query(T0, T0 + DAY, quantities={Quantity.DURATIONS}, **q))
    assert durations == {GroupKey(): (T0 + 5 * HOUR, T0 + 5 * HOUR)}
    both = await subject.store.bucket_bounds(
        query(T0, T0 + DAY, quantities={Quantity.COUNTERS, Quantity.DURATIONS}, **q)
    )
    assert both == {GroupKey(): (T0, T0 + 5 * HOUR)}
    # Users and errors are not data for bounds.
    assert (
        await subject.store.bucket_bounds(query(T0, T0 + DAY, quantities={Quantity.USERS, Quantity.ERRORS}))
        == {}
    )


async def test_bounds_follow_granularity_and_range(subject):
    await _data(subject.store)
    minute = await subject.store.bucket_bounds(
        query(T0, T0 + DAY, granularity=MINUTE, quantities=COUNTERS, projects=(WEB,))
    )
    assert minute == {GroupKey(): (T0, T0 + 2 * HOUR)}
    inside = await subject.store.bucket_bounds(
        query(T0 + HOUR, T0 + 2 * HOUR, quantities=COUNTERS, projects=(WEB,))
    )
    assert inside == {GroupKey(): (T0 + HOUR, T0 + HOUR)}
    day = await subject.store.bucket_bounds(query(T0, T0 + DAY, granularity=DAY, quantities=COUNTERS))
    assert day == {GroupKey(): (T0, T0)}
    assert await subject.store.bucket_bounds(query(T0 + DAY, T0 + 2 * DAY, quantities=COUNTERS)) == {}
    assert await subject.store.bucket_bounds(query(T0, T0 + DAY, quantities=COUNTERS, projects=())) == {}


async def test_bounds_take_no_interval(subject):
    with pytest.raises(ValueError):
        await subject.store.bucket_bounds(query(T0, T0 + DAY, quantities=COUNTERS, interval=HOUR))
