"""The broadcaster and its filters on a SQLite file: one read of the event log per wake-up
whatever the number of subscribers (counted in SQL statements), each subscriber's events
of its organization, types, projects and environment in id order, bounded queues and a
bounded replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.subscriptions import broadcaster as module
from gql.subscriptions.broadcaster import (
    Broadcaster,
    EventFilter,
    Overflow,
    ReplayTooLong,
    Subscriber,
    replay,
)
from storage import events
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema

ALERT, GATE, ADOPTION = events.ALERT_TRANSITION, events.GATE_VERDICT_CHANGED, events.ADOPTION_STAGE_CHANGED


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    accounts = AccountStore(engine)
    await accounts.create_project("acme", "web", 1)
    await accounts.create_project("acme", "app", 2)
    await accounts.create_project("other", "site", 3)
    yield engine
    await engine.dispose()


async def publish(engine: AsyncEngine, *specs: tuple[int, int, str, str | None]) -> list[int]:
    """(org, project, type, environment) each; their ids."""
    ids: list[int] = []
    async with engine.begin() as conn:
        for org, project, kind, environment in specs:
            new = await events.publish(
                conn,
                org_id=org,
                project_id=project,
                event_type=kind,
                event_key=f"k{id(specs)}-{len(ids)}-{org}-{project}-{kind}-{environment}",
                payload={"environment": environment, "release": "r"},
                at=0.0,
            )
            assert new is not None
            ids.append(new)
    return ids


def drain(s: Subscriber) -> list[int]:
    out = []
    while not s.queue.empty():
        out.append(s.queue.get_nowait().id)
    return out


class Statements:
    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, *_: Any) -> None:
        self.count += 1


async def test_one_read_per_wake_up_whatever_the_number_of_subscribers(engine: AsyncEngine) -> None:
    counts = []
    for subscribers in (1, 50):
        b = Broadcaster(engine, poll_seconds=1, notify_poll_seconds=30)
        b.position = await events.last_id(engine)
        subs = [b.subscribe(EventFilter(1, frozenset({GATE})), 10) for _ in range(subscribers)]
        ids = await publish(engine, (1, 1, GATE, None), (1, 2, GATE, None), (2, 3, GATE, None))
        statements = Statements(engine)
        assert await b.pump() == 3
        counts.append(statements.count)
        assert all(drain(s) == ids[:2] for s in subs)
        assert b.position == ids[2]
    assert counts == [1, 1]


async def test_each_subscriber_gets_its_own_events_in_id_order(engine: AsyncEngine) -> None:
    b = Broadcaster(engine, poll_seconds=1, notify_poll_seconds=30)
    everything = b.subscribe(EventFilter(1, frozenset({ALERT, GATE, ADOPTION})), 100)
    alerts = b.subscribe(EventFilter(1, frozenset({ALERT})), 100)
    project_2 = b.subscribe(EventFilter(1, frozenset({ALERT, GATE}), frozenset({2})), 100)
    production = b.subscribe(EventFilter(1, frozenset({ADOPTION}), frozenset({1}), "production"), 100)
    other = b.subscribe(EventFilter(2, frozenset({ALERT, GATE, ADOPTION})), 100)
    ids = await publish(
        engine,
        (1, 1, ALERT, "production"),  # 0
        (1, 2, GATE, None),  # 1
        (1, 1, ADOPTION, "staging"),  # 2
        (2, 3, ALERT, None),  # 3
        (1, 1, ADOPTION, "production"),  # 4
        (1, 2, ALERT, "production"),  # 5
        (1, 2, ADOPTION, "production"),  # 6
    )
    await b.pump()
    assert drain(everything) == [ids[i] for i in (0, 1, 2, 4, 5, 6)]
    assert drain(alerts) == [ids[0], ids[5]]
    assert drain(project_2) == [ids[1], ids[5]]
    assert drain(production) == [ids[4]]
    assert drain(other) == [ids[3]]
    # Nothing new: a second read dispatches nothing again.
    assert await b.pump() == 0
    assert [drain(s) for s in (everything, alerts, other)] == [[], [], []]


async def test_a_burst_is_read_in_pages_in_order(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "BATCH", 5)
    b = Broadcaster(engine, poll_seconds=1, notify_poll_seconds=30)
    s = b.subscribe(EventFilter(1, frozenset({GATE})), 100)
    ids = await publish(engine, *[(1, 1, GATE, None)] * 12)
    statements = Statements(engine)
    assert await b.pump() == 12
    assert statements.count == 3  # 5 + 5 + 2
    assert drain(s) == ids


async def test_a_full_queue_overflows_and_holds_no_more() -> None:
    s = Subscriber(EventFilter(1, frozenset({GATE})), capacity=2, position=0)
    e = events.Event(1, 1, 1, GATE, "k", {}, None)  # type: ignore[arg-type]
    s.offer(e)
    assert await s.get() is e
    for _ in range(5):
        s.offer(e)
    assert s.overflowed and s.queue.qsize() <= 1
    with pytest.raises(Overflow):
        await s.get()


async def test_replay_is_filtered_and_bounded(engine: AsyncEngine) -> None:
    ids = await publish(
        engine,
        *[(1, 1, GATE, None), (1, 2, GATE, None), (2, 3, GATE, None), (1, 1, ALERT, None)] * 3,
    )
    project_1 = EventFilter(1, frozenset({GATE}), frozenset({1}))
    got = [e.id async for e in replay(engine, project_1, ids[0], ids[9], limit=100)]
    assert got == [ids[4], ids[8]]  # after ids[0], up to ids[9], project 1's gate events
    # Up to ids[9] the organization has 5 gate events after ids[0] (of projects 1 and 2):
    # a limit of 5 reads them all; 4 is too few.
    assert [e.id async for e in replay(engine, project_1, ids[0], ids[9], limit=5)] == got
    with pytest.raises(ReplayTooLong):
        [e.id async for e in replay(engine, project_1, ids[0], ids[9], limit=4)]


async def test_the_running_broadcaster_delivers_and_stops(engine: AsyncEngine) -> None:
    b = Broadcaster(engine, poll_seconds=3600, notify_poll_seconds=3600)
    await b.start()
    try:
        s = b.subscribe(EventFilter(1, frozenset({GATE})), 10)
        [new] = await publish(engine, (1, 1, GATE, None))
        b.wake()  # what the NOTIFY listener does; the hour-long poll would not come
        e = await asyncio.wait_for(s.get(), 30)
        assert e.id == new
    finally:
        await b.stop()
    assert b._task is None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def insert(engine: AsyncEngine, event_id: int) -> None:
    """An event with a chosen id, as a transaction that took its id earlier commits."""
    async with engine.begin() as conn:
        await conn.execute(
            events.HEALTH_EVENT.insert().values(
                id=event_id,
                org_id=1,
                project_id=1,
                event_type=GATE,
                event_key=f"explicit-{event_id}",
                payload="{}",
                at=datetime.fromtimestamp(0, UTC),
            )
        )


async def test_a_hole_holds_later_events_back_until_it_fills_or_the_grace_ends(engine: AsyncEngine) -> None:
    """Ids 1 and 3 commit while 2 is still in flight: 3 waits for 2 (then both go, in
    order); later 5 commits and 4 never does: 5 waits out the grace, then goes."""
    clock = Clock()
    b = Broadcaster(engine, poll_seconds=30, notify_poll_seconds=30, hole_grace=5, clock=clock)
    s = b.subscribe(EventFilter(1, frozenset({GATE})), 10)
    await insert(engine, 1)
    await insert(engine, 3)
    assert await b.pump() == 1
    assert drain(s) == [1] and b.position == 1
    assert b.wait_seconds() == 5  # at the hole: read again when the grace ends, at the latest
    clock.now += 3
    assert await b.pump() == 0
    await insert(engine, 2)
    assert await b.pump() == 2
    assert drain(s) == [2, 3] and b.hole_since is None and b.wait_seconds() == 30

    await insert(engine, 5)
    assert await b.pump() == 0
    clock.now += 4.9
    assert await b.pump() == 0
    clock.now += 0.2
    assert await b.pump() == 1
    assert drain(s) == [5] and b.position == 5
