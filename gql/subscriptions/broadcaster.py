"""One reader of the health event log per server process, fanning events out to its
subscribers: however many subscriptions are open, the database sees one `events_after`
query per wake-up, not one per subscriber.

It wakes on PostgreSQL's `NOTIFY` (`events.CHANNEL`, sent at each event's commit, heard on
an asyncpg connection of its own) with a slow poll as a safety net (a notification sent
while the listening connection was down is not queued for it), and on SQLite by polling
every `poll_seconds` (SQLite has no notifications; one indexed query a second).

Ids are handed out when an event is inserted, not when it commits: on PostgreSQL a
missing id below a committed one may be a transaction still in flight (or one that rolled
back, or an insert that met the unique key: those ids never appear). The reader stops at
such a hole for up to `hole_grace` seconds, so an event committed a moment late is still
sent, and in id order; past the grace it is taken for never coming.

Each subscriber has a bounded queue. A subscriber too slow to take its events is not
allowed to grow the process's memory: on overflow its subscription is closed with an
error (it resumes losslessly by resubscribing with `after`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import events
from storage.events import Event

log = logging.getLogger(__name__)

#: Events read per query; a burst larger than this is read in several.
BATCH = 500
#: Seconds the reader waits for a missing id to commit before it skips it.
HOLE_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a subscription receives: always of one organization."""

    org_id: int
    types: frozenset[str]
    #: None: every project of the organization.
    project_ids: frozenset[int] | None = None
    #: None: every environment (the payload's `environment`).
    environment: str | None = None

    def matches(self, e: Event) -> bool:
        if e.org_id != self.org_id or e.event_type not in self.types:
            return False
        if self.project_ids is not None and e.project_id not in self.project_ids:
            return False
        return self.environment is None or e.payload.get("environment") == self.environment


class Overflow(Exception):
    """The subscriber fell more than its queue's capacity behind."""


class Subscriber:
    def __init__(self, event_filter: EventFilter, capacity: int, position: int) -> None:
        self.filter = event_filter
        self.capacity = capacity
        #: The broadcaster's position when it subscribed: every later event is queued.
        self.position = position
        self.queue: asyncio.Queue[Event] = asyncio.Queue(capacity)
        self.overflowed = False

    def offer(self, e: Event) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(e)
        except asyncio.QueueFull:
            # Dropping events silently would break "each once, in order"; the queue is
            # cleared so the memory goes now, and the consumer raises `Overflow`.
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(e)  # wakes a waiting consumer, which sees the flag

    async def get(self) -> Event:
        if self.overflowed:
            raise Overflow
        e = await self.queue.get()
        if self.overflowed:
            raise Overflow
        return e


class Broadcaster:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        poll_seconds: float,
        notify_poll_seconds: float,
        hole_grace: float = HOLE_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.hole_grace = hole_grace
        self.clock = clock
        #: When the reader first stopped at the hole after `position` (None: no hole).
        self.hole_since: float | None = None
        self.postgres = engine.dialect.name == "postgresql"
        #: How long the reader sleeps without a wake-up.
        self.poll_seconds = notify_poll_seconds if self.postgres else poll_seconds
        #: The id of the last event dispatched.
        self.position = 0
        self.subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Any = None

    async def start(self) -> None:
        self.position = await events.last_id(self.engine)
        if self.postgres:
            await self._listen()
        self._task = asyncio.create_task(self._run(), name="relhealth-subscriptions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=5)
            self._listener = None

    async def refresh(self) -> None:
        """Move `position` to the newest committed event while nobody subscribes. The
        reader does not read the log without subscribers (an idle server sends no query
        every poll), so a first subscriber calls this before `subscribe`, so as not to be
        sent what was committed before it came. With subscribers present (even one that
        arrived during the read) the position is the reader's and is left alone."""
        if self.subscribers:
            return
        last = await events.last_id(self.engine)
        if not self.subscribers and last > self.position:
            self.position = last
            self.hole_since = None

    def subscribe(self, event_filter: EventFilter, capacity: int) -> Subscriber:
        """Registered synchronously: it receives every event after `position`, which no
        await can move between its registration and its first dispatch."""
        s = Subscriber(event_filter, capacity, self.position)
        self.subscribers.add(s)
        return s

    def unsubscribe(self, s: Subscriber) -> None:
        self.subscribers.discard(s)

    def wake(self) -> None:
        self._wake.set()

    async def pump(self) -> int:
        """Dispatch the committed events after `position`, in id order, up to a hole
        younger than `hole_grace`; how many were dispatched."""
        sent = 0
        while True:
            batch = await events.events_after(self.engine, self.position, limit=BATCH)
            for e in batch:
                if e.id != self.position + 1:
                    now = self.clock()
                    if self.hole_since is None:
                        self.hole_since = now
                    if now - self.hole_since < self.hole_grace:
                        return sent  # the next wake-up (or `wait_seconds`) reads again
                self.hole_since = None
                for s in list(self.subscribers):
                    if s.filter.matches(e):
                        s.offer(e)
                self.position = e.id
                sent += 1
            if len(batch) < BATCH:
                return sent

    def wait_seconds(self) -> float:
        """How long the reader may sleep: the poll, or less while it waits at a hole."""
        if self.hole_since is None:
            return self.poll_seconds
        left = self.hole_grace - (self.clock() - self.hole_since)
        return min(self.poll_seconds, max(left, 0.05))

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.wait_seconds()):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if self.postgres and (self._listener is None or self._listener.is_closed()):
                    await self._listen()
                if self.subscribers:
                    await self.pump()
            except Exception:
                log.exception("reading the health event log failed; retrying at the next poll")

    async def _listen(self) -> None:
        """LISTEN on a connection of its own (not the pool's: it is held for good)."""
        import asyncpg  # type: ignore[import-untyped]

        url = self.engine.url.set(drivername="postgresql")
        try:
            conn = await asyncpg.connect(url.render_as_string(hide_password=False))
            await conn.add_listener(events.CHANNEL, lambda *_: self._wake.set())
        except Exception:
            log.exception("LISTEN %s failed; polling every %g s meanwhile", events.CHANNEL, self.poll_seconds)
            self._listener = None
            return
        self._listener = conn
        self._wake.set()  # what was committed while nobody listened


async def replay(
    engine: AsyncEngine, event_filter: EventFilter, after: int, until: int, limit: int
) -> AsyncIterator[Event]:
    """The events of `event_filter` with ids in (after, until], oldest first, reading at
    most `limit` events of the organization and types (`ReplayTooLong` past that)."""
    scanned = 0
    position = after
    while position < until:
        batch = await events.events_after(
            engine,
            position,
            org_ids=[event_filter.org_id],
            types=sorted(event_filter.types),
            limit=min(BATCH, limit - scanned + 1),
        )
        for e in batch:
            if e.id > until:
                return
            scanned += 1
            if scanned > limit:
                raise ReplayTooLong(limit)
            position = e.id
            if event_filter.matches(e):
                yield e
        if not batch:
            return


class ReplayTooLong(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit
