"""The SQL stores answer random questions over random data exactly as the reference.

Hand-worked cases (the other modules) pin the semantics; this one looks for the corners
they miss by comparing a SQL store with `MemoryStore` on the same seeded data. Durations
are multiples of 1/4 second, so that sums are exact in any order of addition.
"""

from __future__ import annotations

import random

import pytest

from storage.memory import MemoryStore
from storage.sql.dimensions import ClientDimensionError
from storage.types import (
    CLIENT_DIMENSIONS,
    DAY,
    GRANULARITIES,
    HOUR,
    MINUTE,
    NO_DIMENSIONS,
    And,
    ClientDimensions,
    Cond,
    Dimension,
    Filter,
    Or,
    Quantity,
    SessionIncrement,
    WriteBatch,
)
from tests.store_contract.conftest import API, SHOP, WEB
from tests.store_contract.support import T0, inc, query, sid

RELEASES = ("app@1.0+1", "app@1.0+2", "2.0")
ENVIRONMENTS = ("production", "staging", None, "")
CLIENTS = (
    NO_DIMENSIONS,
    ClientDimensions("sentry.cocoa", "iOS", "iOS 17"),
    ClientDimensions("sentry.cocoa", "iOS", "iOS 18"),
    ClientDimensions("sentry.javascript.browser", "Windows", "Windows 10", "Chrome", "Chrome 120"),
    ClientDimensions("sentry.javascript.browser", None, None, "Firefox", "Firefox 128"),
)
GROUPS: tuple[tuple[Dimension, ...], ...] = (
    (),
    ("release",),
    ("environment",),
    ("project_id", "release"),
    ("project_id", "release", "environment"),
)
GROUPS += (("os_name",), ("browser_major", "release"), ("os_name", "os_major"), ("sdk_name",))
GROUPS += (("release_version",), ("project_id", "release_version"))
POOLS: dict[Dimension, tuple[str | int | None, ...]] = {
    "project_id": (WEB, API, SHOP),
    "release": (*RELEASES, "9.9"),
    "environment": ENVIRONMENTS,
}
POOLS |= {"os_name": ("iOS", "Windows"), "browser_name": ("Chrome", "Firefox")}
POOLS["release_version"] = ("1.0", "2.0", "9.9")


def _increments(rng: random.Random, n: int) -> list[SessionIncrement]:
    out = []
    for _ in range(n):
        status = rng.choice(("ok", "exited", "errored", "crashed", "abnormal"))
        errored = status not in ("ok", "exited")
        user = rng.choice((None, *(f"u{i}" for i in range(12))))
        tags = (
            1 | (2 if errored else 0) | {"crashed": 4, "abnormal": 8 | rng.choice((0, 32, 64))}.get(status, 0)
        )
        out.append(
            inc(
                T0 + rng.randrange(3 * DAY),
                project=rng.choice((WEB, WEB, API, SHOP)),
                release=rng.choice(RELEASES),
                env=rng.choice(ENVIRONMENTS),
                started_count=rng.choice((0, 1, 1)),
                crashed=int(status == "crashed"),
                abnormal=int(status == "abnormal"),
                errored_preaggr=rng.choice((0, 0, 0, 2)),
                sid=sid(rng.randrange(40)) if errored else None,
                user=user,
                tags=tags if user is not None else 0,
                duration=rng.randrange(4000) / 4 if status == "exited" else None,
                dims=rng.choice(CLIENTS),
            )
        )
    return out


def _filter(rng: random.Random) -> Filter | None:
    def cond() -> Cond:
        dimension = rng.choice(sorted(POOLS))
        pool = POOLS[dimension]
        values = tuple(rng.sample(pool, rng.randrange(len(pool) + 1)))
        return Cond(dimension, values, negate=rng.random() < 0.4)

    shape = rng.randrange(4)
    if shape == 0:
        return None
    if shape == 1:
        return cond()
    terms = tuple(cond() for _ in range(rng.randrange(1, 4)))
    return And(terms) if shape == 2 else Or(terms)


def _dimensions(flt: Filter | None) -> list[str]:
    if flt is None:
        return []
    if isinstance(flt, Cond):
        return [flt.dimension]
    return [d for term in flt.terms for d in _dimensions(term)]


@pytest.mark.parametrize("seed", [1, 2])
async def test_sql_agrees_with_the_reference(subject, seed):
    if subject.kind == "memory":
        pytest.skip("the reference itself")
    rng = random.Random(seed)
    reference = MemoryStore({WEB: subject.acme, API: subject.acme, SHOP: subject.globex})
    for _ in range(4):
        batch = [WriteBatch(_increments(rng, 60))]
        await subject.store.apply(batch)
        await reference.apply(batch)
    for _ in range(40):
        granularity = rng.choice(GRANULARITIES)
        group_by = rng.choice(GROUPS)
        flt = _filter(rng)
        if any(d in CLIENT_DIMENSIONS for d in (*group_by, *_dimensions(flt))):
            granularity = max(granularity, HOUR)  # client series are hourly and daily
        step = max(granularity, HOUR if granularity == MINUTE else granularity)
        start = T0 - DAY + rng.randrange(5) * step
        end = start + rng.randrange(1, 5 * DAY // step) * step
        interval = rng.choice((None, None, granularity, DAY))
        projects = tuple(rng.sample((WEB, API, SHOP), rng.randrange(1, 4)))
        q = query(
            start,
            end,
            granularity=granularity,
            quantities=frozenset(rng.sample(list(Quantity), rng.randrange(1, 5))),
            group_by=group_by,
            filter=flt,
            interval=interval,
            projects=projects,
        )
        try:
            expected = await reference.aggregate(q)
        except ClientDimensionError:  # more than one client family: both stores refuse
            with pytest.raises(ClientDimensionError):
                await subject.store.aggregate(q)
            continue
        assert await subject.store.aggregate(q) == expected, q
        if interval is None:
            assert await subject.store.bucket_bounds(q) == await reference.bucket_bounds(q), q
