"""Distinct counts from `fact_sketch` (storage/sql/sketches.py, write.py, read.py): unions
across batches, buckets and groups equal to the exact sets on small data, honest
estimates above the sketch capacity, a flat statement count per write, and minute rows
only within the minute retention."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from storage import distinct
from storage.accounts import AccountStore
from storage.engine import StatementCounter, create_engine
from storage.schema import ensure_schema
from storage.store import SessionStore
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    AggregateQuery,
    AggregateResult,
    GroupKey,
    Kind,
    Quantity,
    SessionIncrement,
    WriteBatch,
)

#: 2024-03-01T00:00:00Z: the fixed clock of these stores.
NOW = 1_709_251_200
T0 = NOW - 2 * DAY
ALL = frozenset(Quantity)


def inc(
    release: str,
    started: float,
    user: str | None = None,
    tags: int = USER_SEEN,
    sid: str | None = None,
    env: str | None = "production",
    project: int = 1,
) -> SessionIncrement:
    return SessionIncrement(
        project_id=project,
        release=release,
        environment=env,
        started=started,
        started_count=1,
        error_sid=sid,
        user=user,
        user_tags=tags if user is not None else 0,
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[object]:
    engine = create_engine(database_url)
    await ensure_schema(engine)
    accounts = AccountStore(engine)
    await accounts.create_project("acme", "web", 1)
    await accounts.create_project("acme", "api", 2)
    yield engine
    await engine.dispose()


def store_of(engine: object, minute_retention: int = 30 * DAY, now: float = NOW) -> SessionStore:
    return SessionStore(engine, minute_retention=minute_retention, now=lambda: now)  # type: ignore[arg-type]


async def totals(
    store: SessionStore, granularity: int = HOUR, group_by: tuple[str, ...] = (), **kw: object
) -> AggregateResult:
    return await store.aggregate(
        AggregateQuery(
            project_ids=(1, 2),
            start=T0 - T0 % DAY - DAY,
            end=NOW + DAY,
            granularity=granularity,
            quantities=ALL,
            group_by=group_by,  # type: ignore[arg-type]
            **kw,  # type: ignore[arg-type]
        )
    )


async def test_sets_unite_across_batches_buckets_and_kinds(engine):
    store = store_of(engine)
    sid1, sid2, sid3 = (f"00000000-0000-4000-8000-00000000000{i}" for i in (1, 2, 3))
    await store.apply(
        [
            WriteBatch(
                [
                    inc("r1", T0, "alice"),
                    inc("r1", T0 + 60, "bob", USER_SEEN | USER_ERRORED | USER_CRASHED, sid1),
                ]
            )
        ]
    )
    # A second transaction: bob again (now unhandled too) an hour later, carol, and bob's
    # session again in the error set; alice with both ANR mechanisms.
    await store.apply(
        [
            WriteBatch(
                [
                    inc("r1", T0 + HOUR, "bob", USER_SEEN | USER_ERRORED | USER_UNHANDLED, sid1),
                    inc("r1", T0 + HOUR, "carol", USER_SEEN | USER_ERRORED | USER_ABNORMAL, sid2),
                    inc("r1", T0 + 2 * HOUR, "alice", USER_SEEN | USER_ANR_FOREGROUND),
                    inc("r1", T0 + 2 * HOUR, "alice", USER_SEEN | USER_ANR_BACKGROUND),
                    inc("r1", T0 + 3 * HOUR, None, sid=sid3),
                ]
            )
        ]
    )
    for g in (MINUTE, HOUR, DAY):
        result = await totals(store, g)
        agg = result.totals[GroupKey()]
        u = agg.users
        # users {alice, bob, carol}; errored {bob, carol}; crashed {bob}; abnormal {carol};
        # unhandled {bob}; anr {alice}; anr foreground {alice}; error set {sid1, sid2, sid3}.
        assert (u.all, u.errored, u.crashed, u.abnormal, u.unhandled, u.anr, u.anr_foreground) == (
            3,
            2,
            1,
            1,
            1,
            1,
            1,
        ), g
        assert agg.errored_set == 3, g
        assert result.approximate == set()
    # Per hour: bob counts once in each of his two hours, never twice in one.
    series = (await totals(store, HOUR, interval=HOUR)).series[GroupKey()]
    assert {b - T0: (a.users.all, a.users.errored, a.errored_set) for b, a in series.items()} == {
        0: (2, 1, 1),
        HOUR: (2, 2, 2),
        2 * HOUR: (1, 0, 0),
        3 * HOUR: (0, 0, 1),
    }


async def test_small_data_equals_the_exact_sets_per_group_and_bucket(engine):
    """Random small data: every count equals the size of the set it stands for."""
    rng = random.Random(8)
    store = store_of(engine)
    releases, envs = ("a@1", "a@2", "b@1"), ("production", "staging", None)
    tag_choices = (USER_SEEN, USER_SEEN | USER_ERRORED, USER_SEEN | USER_ERRORED | USER_CRASHED)
    expected_users: dict[tuple[int, str, int], set[str]] = {}
    expected_crashed: dict[tuple[int, str, int], set[str]] = {}
    expected_sids: dict[tuple[int, str, int], set[str]] = {}
    for _ in range(6):
        batch = []
        for _ in range(150):
            project = rng.choice((1, 2))
            release = rng.choice(releases)
            started = T0 + rng.randrange(0, 2 * DAY)
            user = f"u{rng.randrange(60)}"
            tags = rng.choice(tag_choices)
            sid = f"00000000-0000-4000-8000-{rng.randrange(40):012d}" if tags & USER_ERRORED else None
            batch.append(inc(release, started, user, tags, sid, env=rng.choice(envs), project=project))
            day = started - started % DAY
            expected_users.setdefault((project, release, day), set()).add(user)
            if tags & USER_CRASHED:
                expected_crashed.setdefault((project, release, day), set()).add(user)
            if sid is not None:
                expected_sids.setdefault((project, release, day), set()).add(sid)
        await store.apply([WriteBatch(batch)])
    for g in (HOUR, DAY):
        result = await totals(store, g, ("project_id", "release"), interval=DAY)
        assert result.approximate == set()
        got = {
            (k.project_id, k.release, b): (a.users.all, a.users.crashed, a.errored_set)
            for k, per_bucket in result.series.items()
            for b, a in per_bucket.items()
        }
        want = {
            key: (len(users), len(expected_crashed.get(key, ())), len(expected_sids.get(key, ())))
            for key, users in expected_users.items()
        }
        assert got == want, g
    # Totals: unions over days and environments, never sums.
    result = await totals(store, DAY, ("release",))
    for release in releases:
        users = set().union(*(s for (_p, r, _d), s in expected_users.items() if r == release))
        assert result.totals[GroupKey(release=release)].users.all == len(users)


async def test_unions_of_exact_buckets_stay_exact_above_one_sketch_capacity(engine):
    store = store_of(engine)
    n = distinct.EXACT_UP_TO + 5000
    # Each hour holds n / 24 < EXACT_UP_TO users (exact sketches); their union is above
    # one sketch's capacity and still exact.
    await store.apply([WriteBatch([inc("big", T0 + (i % 24) * HOUR, f"user-{i}") for i in range(n)])])
    result = await totals(store, HOUR, ("release",))
    assert result.totals[GroupKey(release="big")].users.all == n
    assert result.approximate == set()


async def test_an_estimating_bucket_flags_its_kind_approximate(engine):
    store = store_of(engine)
    # One hour past capacity: a sketch keeps every hash up to at least EXACT_UP_TO
    # members (its hash table holds some more before it starts estimating); 4x is past it.
    n = 4 * distinct.EXACT_UP_TO
    batch = [inc("big", T0, f"user-{i}") for i in range(n)]
    batch.append(inc("small", T0, "only", USER_SEEN | USER_ERRORED, "00000000-0000-4000-8000-000000000001"))
    await store.apply([WriteBatch(batch)])
    result = await totals(store, HOUR, ("release",))
    big, small = result.totals[GroupKey(release="big")], result.totals[GroupKey(release="small")]
    assert abs(big.users.all - n) <= 4 * distinct.RELATIVE_STANDARD_ERROR * n
    assert result.approximate == {Kind.USERS}
    assert (small.users.all, small.users.errored, small.errored_set) == (1, 1, 1)
    # Adding more members to the estimating sketch keeps estimating within the bound.
    await store.apply([WriteBatch([inc("big", T0 + 60, f"user-{i}") for i in range(n, n + 3000)])])
    result = await totals(store, HOUR, ("release",))
    assert abs(result.totals[GroupKey(release="big")].users.all - (n + 3000)) <= (
        4 * distinct.RELATIVE_STANDARD_ERROR * (n + 3000)
    )


async def test_minute_rows_only_within_the_minute_retention(engine):
    keep = 30 * DAY
    cutoff = NOW - keep  # a minute boundary
    store = store_of(engine, minute_retention=keep)
    await store.apply(
        [
            WriteBatch(
                [
                    inc("r", cutoff, "kept"),  # exactly at the cutoff: kept
                    inc("r", cutoff - 1, "old-1"),  # the minute before it: no minute row
                    inc("r", cutoff - 10 * DAY, "old-2"),
                    inc("r", NOW - HOUR, "recent"),
                ]
            )
        ]
    )

    async def per_granularity(table: str) -> dict[int, int]:
        async with engine.connect() as conn:
            rows = await conn.execute(text(f"SELECT granularity, COUNT(*) FROM {table} GROUP BY granularity"))
            return {int(g): int(n) for g, n in rows}

    # Minute: the cutoff's and the recent one's buckets; hour and day: 4 buckets each
    # (the cutoff is midnight, so cutoff - 1 s lies in the hour and the day before it).
    assert await per_granularity("fact_counter") == {MINUTE: 2, HOUR: 4, DAY: 4}
    assert await per_granularity("fact_sketch") == {MINUTE: 2, HOUR: 4, DAY: 4}
    result = await store.aggregate(
        AggregateQuery(project_ids=(1,), start=0, end=NOW + DAY, granularity=MINUTE, quantities=ALL)
    )
    assert (result.totals[GroupKey()].counters.started, result.totals[GroupKey()].users.all) == (2, 2)
    result = await store.aggregate(
        AggregateQuery(project_ids=(1,), start=0, end=NOW + DAY, granularity=HOUR, quantities=ALL)
    )
    assert (result.totals[GroupKey()].counters.started, result.totals[GroupKey()].users.all) == (4, 4)


async def test_minute_retention_zero_keeps_every_minute(engine):
    store = store_of(engine, minute_retention=0)
    await store.apply([WriteBatch([inc("r", NOW - 400 * DAY, "a"), inc("r", NOW, "b")])])
    async with engine.connect() as conn:
        n = (await conn.execute(text("SELECT COUNT(*) FROM fact_counter WHERE granularity = 60"))).scalar()
    assert n == 2


async def test_write_statements_do_not_grow_with_keys(engine, database_url):
    """One transaction's statements are a constant: the sketches' keys travel as one
    parameter, whatever their number (counted on PostgreSQL, where every statement goes
    through SQLAlchemy; SQLite's run on aiosqlite's thread in one trip)."""
    store = store_of(engine)

    def batch(n_releases: int, round_: int) -> WriteBatch:
        return WriteBatch(
            [
                inc(
                    f"r{i}",
                    T0 + j * HOUR,
                    f"u{round_}-{j}",
                    USER_SEEN | USER_CRASHED,
                    f"00000000-0000-4000-8000-{round_:06d}{j:06d}",
                )
                for i in range(n_releases)
                for j in range(5)
            ]
        )

    # Series first, so that only the fact statements are counted; then new members each
    # time, so every touched sketch is read, merged and written.
    await store.apply([batch(40, 0)])
    counts = []
    for round_, n in ((1, 1), (2, 40)):
        counter = StatementCounter(engine)  # type: ignore[arg-type]
        try:
            await store.apply([batch(n, round_)])
            # Upserts of `COPY_MIN_ROWS` rows or more (here the sketches of 40 releases) go
            # through COPY on PostgreSQL (storage.sql.copy): one more statement, creating
            # the staging table, whatever the number of keys.
            statements = [s for s in counter.statements if not s.startswith("CREATE TEMP TABLE")]
        finally:
            counter.close()
        counts.append(len(statements))
        if database_url.startswith("postgresql"):
            assert sum("pg_advisory_xact_lock" in s for s in statements) == 1
            assert sum("FROM unnest" in s and "fact_sketch" in s for s in statements) == 1
            assert sum(s.startswith("INSERT INTO fact_sketch") for s in statements) == 1
    assert counts[0] == counts[1]
    result = await totals(store, DAY, ("release",))
    # r0 got 5 users in each of 3 rounds, r39 in rounds 0 and 2.
    assert result.totals[GroupKey(release="r0")].users.crashed == 15
    assert result.totals[GroupKey(release="r39")].users.crashed == 10
