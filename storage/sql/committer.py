"""The live writer's group commit on a thread of its own (SQLite files).

The group commit of `storage.writer` runs its transaction on aiosqlite's thread, but
every cycle passes through the event loop twice: the thread starts only when the loop
has handed it the group, and the next group is cut only when the loop has heard that the
commit ended. Under ingest load the loop is busy with requests, and those two waits were
about 2.4 ms of a 6 ms cycle. Here one thread owns a connection and cuts its groups
itself: as soon as a commit ends it takes everything that queued meanwhile (up to the
group limits) and commits it; only the answers go back to the loop.

What must run on the loop still does, per envelope, before it is queued: its series ids
and client-dimension series (`FactWriter.prepare`, which may create rows through the
query engine). A request is answered only after the transaction holding its batch
committed; if a group fails, each of its batches is retried alone, so one bad batch
fails only its own request and nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from storage.engine import sqlite_pragmas
from storage.sql import sketches
from storage.sql.dimensions import ClientWork
from storage.sql.fold import SketchKey
from storage.sql.write import FactWriter, run_transaction, sketch_merger
from storage.types import WriteBatch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Part:
    batch: WriteBatch
    client_work: ClientWork
    done: asyncio.Future[None]


class SqliteCommitter:
    def __init__(
        self,
        path: str,
        writer: FactWriter,
        *,
        synchronous: str = "NORMAL",
        max_group: int = 500,
        max_group_increments: int = 50_000,
    ) -> None:
        self.path = path
        self.writer = writer
        self.synchronous = synchronous
        self.max_group = max_group
        self.max_group_increments = max_group_increments
        self._pending: deque[_Part] = deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.groups = 0
        self.sketches = SketchCache()
        self._preparing = 0
        #: Set while no write is preparing (what `stop` waits for).
        self._prepared = asyncio.Event()
        self._prepared.set()

    @property
    def depth(self) -> int:
        """Batches queued and not yet in a transaction."""
        return len(self._pending)

    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="relhealth-sqlite-commit", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait)
        if self._start_error is not None:
            error, self._start_error, self._thread = self._start_error, None, None
            raise error

    async def stop(self) -> None:
        """Commit everything queued, then stop."""
        thread = self._thread
        if thread is None:
            return
        # Writes still preparing on the loop (series ids) are queued before the thread is
        # told to stop, so that each of them is committed too.
        if self._preparing:
            await self._prepared.wait()
        with self._wake:
            self._stopping = True
            self._wake.notify()
        await asyncio.to_thread(thread.join)
        self._thread = None
        self._started.clear()

    async def write(self, batch: WriteBatch) -> None:
        """Return once `batch` is committed; raise if it could not be."""
        if self._thread is None or self._loop is None:
            raise RuntimeError("the committer is not running")
        self._preparing += 1
        self._prepared.clear()
        try:
            prepared, client_work = await self.writer.prepare(batch)
        finally:
            self._preparing -= 1
            if not self._preparing:
                self._prepared.set()
        done = self._loop.create_future()
        with self._wake:
            self._pending.append(_Part(prepared, client_work, done))
            self._wake.notify()
        await done

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=True)
            sqlite_pragmas(db, self.synchronous)
        except BaseException as exc:
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            while True:
                group = self._next_group()
                if group is None:
                    return
                self._commit(db, group)
        finally:
            db.close()

    def _next_group(self) -> list[_Part] | None:
        """Everything queued, up to the group limits; None once stopping with nothing left."""
        with self._wake:
            while not self._pending:
                if self._stopping:
                    return None
                self._wake.wait()
            group = [self._pending.popleft()]
            increments = len(group[0].batch.increments)
            while self._pending and len(group) < self.max_group and increments < self.max_group_increments:
                group.append(self._pending.popleft())
                increments += len(group[-1].batch.increments)
        return group

    def _commit(self, db: sqlite3.Connection, group: list[_Part]) -> None:
        self.groups += 1
        try:
            self._transaction(db, group)
        except Exception as exc:
            if len(group) == 1:
                log.exception("ingest write failed")
                self._settle(group, exc)
                return
            # One bad batch must not fail its neighbours: retry each on its own.
            for part in group:
                try:
                    self._transaction(db, [part])
                except Exception as single_exc:
                    log.exception("ingest write failed")
                    self._settle([part], single_exc)
                else:
                    self._settle([part], None)
        else:
            self._settle(group, None)

    def _transaction(self, db: sqlite3.Connection, group: list[_Part]) -> None:
        if len(group) == 1:
            merged, work = group[0].batch, group[0].client_work
        else:
            merged, work = WriteBatch(), []
            for part in group:
                merged.extend(part.batch)
                work.extend(part.client_work)
        fold = self.writer.folder(merged, work, sort=False)
        written: dict[SketchKey, bytes] = {}
        run_transaction(db, sketch_merger(fold, self._read, written), self.writer.statements()[-1])
        # Only once committed (a rolled back transaction raised above: the cache keeps
        # what the file still holds).
        self.sketches.update(written)

    def _read(self, db: sqlite3.Connection, keys: list[SketchKey]) -> dict[SketchKey, bytes]:
        """The stored sketches of `keys`, from the cache where it still holds them."""
        # Within the transaction, which holds the write lock: no other connection can
        # commit between this check and our write.
        (version,) = db.execute("PRAGMA data_version").fetchone()
        stored, missing = self.sketches.lookup(keys, int(version))
        if missing:
            stored.update(sketches.sqlite_stored(db, missing))
        return stored

    def _settle(self, group: list[_Part], exc: BaseException | None) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle_all, [p.done for p in group], exc)


def _settle_all(futures: list[asyncio.Future[None]], exc: BaseException | None) -> None:
    for done in futures:
        if done.done():  # the request went away (its task was cancelled)
            continue
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)


class SketchCache:
    """The sketch blobs this connection last wrote, so that the next group commit merges
    into them without reading them back (the read, and the hex decoding of its packed
    row, were a sixth of the commit thread's time under ingest load).

    Valid only while no other connection has committed to the file: SQLite's
    `PRAGMA data_version` changes exactly then (another server process, the retention
    cleanup, an import, a new series), and the cache is emptied. Bounded in bytes; the
    oldest entries go first."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._blobs: dict[SketchKey, bytes] = {}
        self._bytes = 0
        self._version: int | None = None
        self.hits = 0

    def lookup(
        self, keys: Sequence[SketchKey], version: int
    ) -> tuple[dict[SketchKey, bytes], list[SketchKey]]:
        """(the cached blobs of `keys`, the keys to read) at `data_version` `version`."""
        if version != self._version:
            self._blobs.clear()
            self._bytes = 0
            self._version = version
        found: dict[SketchKey, bytes] = {}
        missing: list[SketchKey] = []
        for key in keys:
            blob = self._blobs.get(key)
            if blob is None:
                missing.append(key)
            else:
                found[key] = blob
        self.hits += len(found)
        return found, missing

    def update(self, written: dict[SketchKey, bytes]) -> None:
        """After a commit: what it wrote is what the file now holds."""
        blobs = self._blobs
        for key, blob in written.items():
            old = blobs.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            if len(blob) > self.max_bytes:
                continue
            blobs[key] = blob
            self._bytes += len(blob)
        while self._bytes > self.max_bytes:
            oldest = next(iter(blobs))
            self._bytes -= len(blobs.pop(oldest))
