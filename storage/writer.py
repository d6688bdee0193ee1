"""Group commit: many concurrent requests, one transaction.

Each ingest request hands its batch to the writer and waits; the writer drains whatever
has queued up, applies it in one transaction and then wakes every waiter. A request
answers 200 only after its batch is committed (durability), SQLite sees a single writer
(no lock contention), and the commit cost is shared by every request in the group.
If a group fails, every request in it gets the error and nothing of it was counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from storage.protocol import Store
from storage.sql.committer import SqliteCommitter
from storage.types import WriteBatch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    batch: WriteBatch
    done: asyncio.Future[None]


class BatchWriter:
    """With a `committer` (a SQLite file), the groups are cut and committed on the
    committer's own thread (storage/sql/committer.py) and this class only hands batches
    to it; otherwise they are cut here, on the event loop."""

    def __init__(
        self,
        store: Store,
        *,
        max_group: int = 500,
        max_group_increments: int = 50_000,
        committer: SqliteCommitter | None = None,
    ) -> None:
        self.store = store
        self.committer = committer
        self.max_group = max_group
        #: A group stops growing past this many increments, so that one commit (and the
        #: requests waiting on it) stays short however big the envelopes are.
        self.max_group_increments = max_group_increments
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self.in_flight = 0

    async def start(self) -> None:
        if self.committer is not None:
            await self.committer.start()
            self._running = True
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="relhealth-batch-writer")

    async def stop(self) -> None:
        """Finish everything queued, then stop."""
        if self.committer is not None:
            self._running = False
            await self.committer.stop()
            return
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def write(self, batch: WriteBatch) -> None:
        """Return once `batch` is committed; raise if it could not be."""
        if not batch:
            return
        if self.committer is not None and self._running:
            self.in_flight += 1
            try:
                await self.committer.write(batch)
            finally:
                self.in_flight -= 1
            return
        if self._task is None:
            await self.store.apply([batch])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.in_flight += 1
        try:
            self._queue.put_nowait(_Pending(batch, done))  # unbounded: never waits
            await done
        finally:
            self.in_flight -= 1

    @property
    def depth(self) -> int:
        if self.committer is not None:
            return self.committer.depth
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            increments = len(group[0].batch.increments)
            while (
                len(group) < self.max_group
                and increments < self.max_group_increments
                and not self._queue.empty()
            ):
                group.append(self._queue.get_nowait())
                increments += len(group[-1].batch.increments)
            try:
                await self._apply_group(group)
            finally:
                for _ in group:
                    self._queue.task_done()

    async def _apply_group(self, group: list[_Pending]) -> None:
        try:
            await self.store.apply([p.batch for p in group])
        except Exception as exc:
            if len(group) == 1:
                log.exception("ingest write failed")
                _settle(group[0], exc)
                return
            # One bad batch must not fail its neighbours: retry each on its own.
            for p in group:
                try:
                    await self.store.apply([p.batch])
                except Exception as single_exc:
                    log.exception("ingest write failed")
                    _settle(p, single_exc)
                else:
                    _settle(p, None)
        else:
            for p in group:
                _settle(p, None)


def _settle(p: _Pending, exc: BaseException | None) -> None:
    if p.done.done():
        return
    if exc is None:
        p.done.set_result(None)
    else:
        p.done.set_exception(exc)
