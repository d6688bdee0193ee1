"""Bulk import of historical session data (JSON lines), shared by the CLI and the API.

The rule that makes imports safe to repeat: an import has an id (by default the SHA-256 of
its content); lines are applied in chunks, and each chunk is recorded with its line range
in the transaction that applies it. Running the same import again, or resuming one that
was killed half-way, skips every committed line and applies the rest, so nothing is
counted twice and nothing is lost. With an explicit id, a file that grew since the last
run applies only its new lines.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError

from ingest.records import RejectedLine, rejection
from jobs.import_parse import MissingOrgs, OrgIndex, ParsedRun, line_batch
from jobs.import_pool import ParsePool
from storage.accounts import AccountStore
from storage.imports import SERVER_IMPORT_SCOPE, applied_ranges
from storage.sql.fold import SeriesTriple
from storage.sql.import_rows import FoldSpec
from storage.sql.import_write import write_folded
from storage.store import SessionStore
from storage.types import WriteBatch

CHUNK_LINES = 10_000


@dataclass
class ImportReport:
    import_id: str
    lines: int = 0
    accepted: int = 0
    skipped: int = 0  # lines applied by an earlier run of the same import
    rejected: list[RejectedLine] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "import_id": self.import_id,
            "lines": self.lines,
            "accepted": self.accepted,
            "skipped": self.skipped,
            "rejected": [{"line": r.line_no, "reason": r.reason, "detail": r.detail} for r in self.rejected],
        }


def content_import_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_import_id(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


class _Orgs:
    """The organizations' projects, looked up once each: the snapshot parsers resolve
    projects from (`jobs.import_parse.OrgIndex`)."""

    def __init__(self, accounts: AccountStore) -> None:
        self.accounts = accounts
        self.index: dict[str, dict[str | int, int] | None] = {}

    async def load(self, orgs: Iterable[str]) -> None:
        for org in sorted(orgs):
            if org in self.index:
                continue
            org_id = await self.accounts.organization_id(org)
            if org_id is None:
                self.index[org] = None
                continue
            projects = await self.accounts.projects_of_org(org_id)
            by_key: dict[str | int, int] = {p.slug: p.id for p in projects}
            by_key.update({p.id: p.id for p in projects})
            self.index[org] = by_key


def _line_runs(lines: list[tuple[int, bytes]]) -> Iterator[list[tuple[int, bytes]]]:
    """Split lines (ascending line numbers) into runs of consecutive numbers."""
    start = 0
    for i in range(1, len(lines)):
        if lines[i][0] != lines[i - 1][0] + 1:
            yield lines[start:i]
            start = i
    if lines:
        yield lines[start:]


@dataclass
class _Job:
    """One run on its way: parsed (possibly in a worker), then committed as one chunk."""

    lines: list[tuple[int, bytes]]
    parsed: asyncio.Task[ParsedRun]
    progress_at: int | None  # the line to report once committed


async def run_import(
    lines: Iterable[bytes],
    *,
    import_id: str,
    store: SessionStore,
    accounts: AccountStore,
    received_at: float,
    only_org: str | None = None,
    scope: int = SERVER_IMPORT_SCOPE,
    chunk_lines: int = CHUNK_LINES,
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Apply the records of `lines` (line numbers start at 1).

    `scope` owns the import id: the importing organization's id for the API (with
    `only_org`), `SERVER_IMPORT_SCOPE` for the command line. Progress recorded under one
    scope is never seen from another. With `workers` > 0, runs are parsed in that many
    worker processes (`jobs.import_pool`) while this one commits; the chunks, their
    order and what each records are the same either way."""
    report = ImportReport(import_id)
    done = await applied_ranges(store.engine, scope, import_id)
    orgs = _Orgs(accounts)
    if only_org is not None:
        await orgs.load([only_org])
    pool = ParsePool(workers, only_org, received_at)
    # Runs parsed in workers are folded into fact rows there (`storage.sql.import_rows`),
    # for the SQL store (the only one taking folded rows). Without workers (the import
    # API) runs are not: the live writer folds big batches off the event loop, where the
    # parse already runs. `series` are the ids of the series this import has written to
    # so far, the snapshot a run is folded with.
    folding = workers > 0 and isinstance(store, SessionStore)
    series: dict[SeriesTriple, int] = {}
    # Runs parsed ahead of the commits: enough to keep every worker busy.
    ahead = workers if workers > 0 else 0

    def applied(n: int) -> bool:
        return any(first <= n <= last for first, last in done)

    block: list[tuple[int, bytes]] = []
    jobs: deque[_Job] = deque()
    # One chunk commits while the next ones are parsed: the database works in its own
    # thread (aiosqlite, or the server for PostgreSQL), so the two overlap.
    in_flight: asyncio.Task[None] | None = None

    def fold_spec() -> FoldSpec | None:
        if not folding:
            return None
        sort = store.engine.dialect.name != "sqlite"
        return FoldSpec(dict(series), store.writer.minute_cutoff(), sort)

    async def parse(run: list[tuple[int, bytes]]) -> ParsedRun:
        while True:
            parsed = await pool.parse(run, orgs.index, fold_spec())
            if not isinstance(parsed, MissingOrgs):
                return parsed
            await orgs.load(parsed.orgs)

    async def commit(job: _Job, parsed: ParsedRun) -> None:
        first, last = job.lines[0][0], job.lines[-1][0]
        accepted, rejected = parsed.accepted, parsed.rejected
        chunk = (scope, import_id, first, last)
        try:
            if parsed.folded is not None:
                series.update(await write_folded(store, parsed.folded, import_chunk=chunk))
            else:
                await store.apply([parsed.batch()], import_chunk=chunk)
        except DataError:
            # A value the database refuses must cost its own line, not the chunk (nor a
            # 500): apply line by line, each recorded as its own chunk.
            accepted, rejected = await _apply_lines(store, scope, import_id, job.lines, orgs.index, pool)
        report.accepted += accepted
        report.rejected.extend(rejected)
        if progress is not None and job.progress_at is not None:
            progress(job.progress_at)  # reported once committed, so it never overstates

    async def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            task, in_flight = in_flight, None
            await task

    async def drain(keep: int) -> None:
        """Commit parsed runs, in line order, until at most `keep` are still on their way."""
        nonlocal in_flight
        while len(jobs) > keep:
            job = jobs[0]
            parsed = await job.parsed
            await settle()
            jobs.popleft()
            in_flight = asyncio.create_task(commit(job, parsed))

    async def flush(last_line: int) -> None:
        # A fresh import (no committed ranges) is one run per block: skip the splitting.
        pending = [(n, line) for n, line in block if not applied(n)] if done else list(block)
        report.skipped += len(block) - len(pending)
        block.clear()
        runs = list(_line_runs(pending))
        for i, run_lines in enumerate(runs):
            at = last_line if i == len(runs) - 1 else None
            jobs.append(_Job(run_lines, asyncio.create_task(parse(run_lines)), at))
            await drain(ahead)
        if not runs and progress is not None:
            await drain(0)
            await settle()
            progress(last_line)

    try:
        for number, line in enumerate(lines, start=1):
            report.lines = number
            block.append((number, line))
            if len(block) >= chunk_lines:
                await flush(number)
        if block:
            await flush(report.lines)
        await drain(0)
        await settle()
    finally:
        for job in jobs:
            job.parsed.cancel()
        # Let a chunk already on its way finish: it commits whole or not at all.
        await asyncio.gather(*(job.parsed for job in jobs), return_exceptions=True)
        if in_flight is not None:
            await asyncio.gather(in_flight, return_exceptions=True)
        pool.close()
    report.rejected.sort(key=lambda r: r.line_no)
    return report


async def _apply_lines(
    store: SessionStore,
    scope: int,
    import_id: str,
    lines: list[tuple[int, bytes]],
    orgs: OrgIndex,
    pool: ParsePool,
) -> tuple[int, list[RejectedLine]]:
    """Apply a chunk's lines one transaction each (parsed again, here, one by one); a line
    the database refuses is rejected as `unstorable` (and recorded, with nothing applied,
    so re-runs skip it too)."""
    accepted = 0
    rejected: list[RejectedLine] = []
    for n, line in lines:
        item = line_batch(line, n, orgs, pool.only_org, pool.received_at)
        if item is None or isinstance(item, MissingOrgs):
            batch = WriteBatch()  # blank, or (never: the run parsed) an unknown org
        elif isinstance(item, RejectedLine):
            rejected.append(item)
            batch = WriteBatch()
        else:
            batch = item
            reason = rejection(item)
            if reason is not None:
                rejected.append(RejectedLine(n, reason))
        try:
            await store.apply([batch], import_chunk=(scope, import_id, n, n))
        except DataError as error:
            detail = str(error.orig) if error.orig is not None else type(error).__name__
            rejected.append(RejectedLine(n, "unstorable", detail.splitlines()[0][:200]))
            await store.apply([WriteBatch()], import_chunk=(scope, import_id, n, n))
        else:
            if any(o.kind == "accepted" for o in batch.outcomes):
                accepted += 1
    return accepted, rejected
