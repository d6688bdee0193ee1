"""Filters (IN, NOT IN, And, Or; the null environment) and group keys, including the
client dimensions and release_version."""

from __future__ import annotations

from storage.types import HOUR, And, ClientDimensions, Cond, GroupKey, Or, Quantity
from tests.store_contract.conftest import API, SHOP, WEB
from tests.store_contract.support import T0, inc, query, write

COUNTERS = {Quantity.COUNTERS}

# Started sessions per environment are powers of two, so each sum names its members.
ENVIRONMENTS = {"production": 1, "staging": 2, None: 4, "": 8}


async def _environments(store):
    await write(store, *(inc(T0, env=env, started_count=n) for env, n in ENVIRONMENTS.items()))


async def _started(store, flt, **kwargs):
    result = await store.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS, filter=flt, **kwargs))
    return sum(a.counters.started for a in result.totals.values())


async def test_environment_in_and_not_in_with_the_null_environment(subject):
    await _environments(subject.store)
    s = subject.store
    assert await _started(s, Cond("environment", ("production",))) == 1
    assert await _started(s, Cond("environment", (None,))) == 4
    assert await _started(s, Cond("environment", ("",))) == 8  # "" is a name, not "none"
    assert await _started(s, Cond("environment", ("production", None))) == 5
    # NOT IN keeps the null environment unless None is among the values.
    assert await _started(s, Cond("environment", ("production",), negate=True)) == 2 + 4 + 8
    assert await _started(s, Cond("environment", ("production", None), negate=True)) == 2 + 8
    assert await _started(s, Cond("environment", ("",), negate=True)) == 1 + 2 + 4
    assert await _started(s, Cond("environment", ("nowhere",))) == 0


async def test_empty_value_lists(subject):
    await _environments(subject.store)
    s = subject.store
    assert await _started(s, Cond("environment", ())) == 0
    assert await _started(s, Cond("environment", (), negate=True)) == 15
    assert await _started(s, Cond("release", ())) == 0
    assert await _started(s, Cond("release", (), negate=True)) == 15
    # A release is never missing: None names no release.
    assert await _started(s, Cond("release", (None,))) == 0
    assert await _started(s, Cond("release", (None,), negate=True)) == 15


async def test_release_project_and_boolean_filters(subject):
    await write(
        subject.store,
        inc(T0, release="1.0", env="production", started_count=1),
        inc(T0, release="2.0", env="production", started_count=2),
        inc(T0, release="2.0", env="staging", started_count=4),
        inc(T0, release="2.0", env="production", started_count=8, project=API),
        inc(T0, release="3.0", env=None, started_count=16, project=SHOP),
    )
    s = subject.store
    assert await _started(s, Cond("release", ("2.0",))) == 14
    assert await _started(s, Cond("release", ("2.0", "9.9"), negate=True)) == 17
    assert await _started(s, Cond("project_id", (API, SHOP))) == 24
    assert await _started(s, Cond("project_id", (API,), negate=True)) == 23
    prod_2 = And((Cond("release", ("2.0",)), Cond("environment", ("production",))))
    assert await _started(s, prod_2) == 10
    either = Or((Cond("release", ("1.0",)), Cond("environment", ("staging", None))))
    assert await _started(s, either) == 21
    nested = And(
        (Or((Cond("project_id", (WEB,)), Cond("environment", (None,)))), Cond("release", ("1.0",), True))
    )
    assert await _started(s, nested) == 2 + 4 + 16
    assert await _started(s, And(())) == 31
    assert await _started(s, Or(())) == 0
    # The filter narrows `project_ids`, never widens it.
    assert await _started(s, Cond("project_id", (SHOP,)), projects=(WEB,)) == 0


async def test_group_keys_name_only_grouped_dimensions(subject):
    await _environments(subject.store)
    result = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("environment",))
    )
    assert {k: a.counters.started for k, a in result.totals.items()} == {
        GroupKey(environment="production"): 1,
        GroupKey(environment="staging"): 2,
        GroupKey(environment=None): 4,  # the null environment (same key as "not grouped")
        GroupKey(environment=""): 8,
    }
    ungrouped = await subject.store.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS))
    assert list(ungrouped.totals) == [GroupKey()]


# -- client dimensions and release_version -----------------------------------------------------

IOS = ClientDimensions(sdk_name="sentry.cocoa", os_name="iOS", os_major="iOS 17")
ANDROID = ClientDimensions(sdk_name="sentry.java.android", os_name="Android", os_major="Android 14")
CHROME = ClientDimensions(
    sdk_name="sentry.javascript.browser",
    os_name="Windows",
    os_major="Windows 10",
    browser_name="Chrome",
    browser_major="Chrome 120",
)
UNKNOWN = ClientDimensions()
LINUX = ClientDimensions(os_name="Linux")  # an OS without a major version


async def _clients(store):
    await write(
        store,
        inc(T0, started_count=1, dims=IOS, user="a", tags=1),
        inc(T0, started_count=2, crashed=1, dims=IOS, user="b", tags=5),
        inc(T0, started_count=4, dims=ANDROID, user="a", tags=1, release="2.0"),
        inc(T0, started_count=8, dims=CHROME),
        inc(T0, started_count=16, dims=UNKNOWN),
        inc(T0, started_count=32, dims=LINUX),
    )


async def test_group_and_filter_by_client_dimensions(subject):
    await _clients(subject.store)
    s = subject.store
    by_os = await s.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.COUNTERS, Quantity.USERS}, group_by=("os_name",))
    )
    assert {
        k.os_name: (a.counters.started, a.counters.crashed, a.users.all) for k, a in by_os.totals.items()
    } == {
        "iOS": (3, 1, 2),
        "Android": (4, 0, 1),
        "Windows": (8, 0, 0),
        "Linux": (32, 0, 0),
        # The 16 sessions of unknown clients are in no group of the os family.
    }
    by_browser = await s.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("browser_major",)))
    assert {k.browser_major: a.counters.started for k, a in by_browser.totals.items()} == {"Chrome 120": 8}
    by_major = await s.aggregate(query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("os_major",)))
    assert {k.os_major: a.counters.started for k, a in by_major.totals.items()} == {
        "iOS 17": 3,
        "Android 14": 4,
        "Windows 10": 8,
        None: 32,  # a known OS without a major
    }
    assert await _started(s, Cond("os_name", ("iOS",))) == 3
    assert await _started(s, Cond("sdk_name", ("sentry.cocoa", "sentry.javascript.browser"))) == 11
    # NOT IN means "another known value": unknown clients stay out (README, client dimensions).
    assert await _started(s, Cond("os_name", ("iOS",), negate=True)) == 4 + 8 + 32
    assert await _started(s, Cond("os_name", ("iOS", None), negate=True)) == 4 + 8 + 32
    assert await _started(s, Cond("os_major", (None,))) == 32
    # Users are still unions: "a" on iOS and Android counts once in total.
    total = await s.aggregate(
        query(T0, T0 + HOUR, quantities={Quantity.USERS}, filter=Cond("os_name", ("iOS", "Android")))
    )
    assert total.totals[GroupKey()].users.all == 2


async def test_group_by_release_version(subject):
    await write(
        subject.store,
        inc(T0, release="app@25.11.2+345", started_count=1),
        inc(T0, release="app@25.11.2+346", started_count=2),
        inc(T0, release="app@25.12.0", started_count=4),
    )
    result = await subject.store.aggregate(
        query(T0, T0 + HOUR, quantities=COUNTERS, group_by=("release_version",))
    )
    assert {k.release_version: a.counters.started for k, a in result.totals.items()} == {
        "25.11.2": 3,
        "25.12.0": 4,
    }
    assert await _started(subject.store, Cond("release_version", ("25.11.2",))) == 3
    assert await _started(subject.store, Cond("release_version", ("25.11.2",), negate=True)) == 4
