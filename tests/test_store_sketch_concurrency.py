"""Concurrent writers merging into the same sketches lose no member and count none twice
(storage/sql/sketches.py: `BEGIN IMMEDIATE` on SQLite, advisory locks per series on
PostgreSQL). Each writer is a store on its own engine (its own connections), as several
server processes sharing one database are."""

from __future__ import annotations

import asyncio

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.store import SessionStore
from storage.types import (
    DAY,
    HOUR,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    AggregateQuery,
    GroupKey,
    Quantity,
    SessionIncrement,
    WriteBatch,
)

NOW = 1_709_251_200
T0 = NOW - DAY
WRITERS = 4
ROUNDS = 8
USERS_PER_ROUND = 30


def batch(writer: int, round_: int) -> WriteBatch:
    """New users of this writer and round, in the same two series and three hours as
    every other writer's, plus a user every writer and round repeats."""
    increments = []
    for i in range(USERS_PER_ROUND):
        crashed = i % 3 == 0
        increments.append(
            SessionIncrement(
                project_id=1,
                release="r@1" if i % 2 else "r@2",
                environment="production",
                started=T0 + (i % 3) * HOUR,
                started_count=1,
                crashed=int(crashed),
                error_sid=f"00000000-0000-4000-8000-{writer:04d}{round_:04d}{i:04d}" if crashed else None,
                user=f"w{writer}-r{round_}-u{i}" if i else "everyone",
                user_tags=USER_SEEN | (USER_ERRORED | USER_CRASHED if crashed else 0),
            )
        )
    return WriteBatch(increments)


async def test_concurrent_writers_count_every_member_once(database_url):
    engines = [create_engine(database_url) for _ in range(WRITERS)]
    try:
        await ensure_schema(engines[0])
        await AccountStore(engines[0]).create_project("acme", "web", 1)
        stores = [SessionStore(e, minute_retention=0, now=lambda: NOW) for e in engines]

        async def write(w: int) -> None:
            for r in range(ROUNDS):
                await stores[w].apply([batch(w, r)])
                await asyncio.sleep(0)

        await asyncio.gather(*(write(w) for w in range(WRITERS)))

        # Per round and writer: "everyone" (i = 0, release r@2) plus 29 own users; users
        # with i % 3 == 0 crashed (i = 0, 3, ..., 27: 10 per round, "everyone" among them).
        own = USERS_PER_ROUND - 1
        want_users = WRITERS * ROUNDS * own + 1
        want_crashed = WRITERS * ROUNDS * 9 + 1
        want_sids = WRITERS * ROUNDS * 10
        for granularity in (60, HOUR, DAY):
            result = await stores[0].aggregate(
                AggregateQuery(
                    project_ids=(1,),
                    start=T0 - T0 % DAY,
                    end=NOW + DAY,
                    granularity=granularity,
                    quantities=frozenset(Quantity),
                )
            )
            agg = result.totals[GroupKey()]
            assert agg.counters.started == WRITERS * ROUNDS * USERS_PER_ROUND, granularity
            assert (agg.users.all, agg.users.crashed, agg.errored_set) == (
                want_users,
                want_crashed,
                want_sids,
            ), granularity
            assert result.approximate == set()
    finally:
        for e in engines:
            await e.dispose()
