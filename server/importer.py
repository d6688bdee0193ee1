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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy.exc import DataError

from ingest.records import ImportRecord, RejectedLine, parse_record, record_batch, rejection
from storage.accounts import AccountStore
from storage.imports import SERVER_IMPORT_SCOPE, applied_ranges
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


class _Projects:
    """Resolves (org slug, project slug or id) to a project id, one org lookup each."""

    def __init__(self, accounts: AccountStore, only_org: str | None) -> None:
        self.accounts = accounts
        self.only_org = only_org
        self._orgs: dict[str, dict[str | int, int] | None] = {}

    async def resolve(self, record: ImportRecord) -> int | str:
        """The project id, or the rejection reason."""
        if self.only_org is not None and record.org != self.only_org:
            return "organization_mismatch"
        if record.org not in self._orgs:
            org_id = await self.accounts.organization_id(record.org)
            if org_id is None:
                self._orgs[record.org] = None
            else:
                projects = await self.accounts.projects_of_org(org_id)
                by_key: dict[str | int, int] = {p.slug: p.id for p in projects}
                by_key.update({p.id: p.id for p in projects})
                self._orgs[record.org] = by_key
        index = self._orgs[record.org]
        if index is None:
            return "unknown_organization"
        found = index.get(record.project)
        return found if found is not None else "unknown_project"


def _runs(numbers: list[int]) -> Iterator[list[int]]:
    """Split ascending line numbers into runs of consecutive numbers."""
    run: list[int] = []
    for n in numbers:
        if run and n != run[-1] + 1:
            yield run
            run = []
        run.append(n)
    if run:
        yield run


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
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Apply the records of `lines` (line numbers start at 1).

    `scope` owns the import id: the importing organization's id for the API (with
    `only_org`), `SERVER_IMPORT_SCOPE` for the command line. Progress recorded under one
    scope is never seen from another."""
    report = ImportReport(import_id)
    done = await applied_ranges(store.engine, scope, import_id)
    projects = _Projects(accounts, only_org)

    def applied(n: int) -> bool:
        return any(first <= n <= last for first, last in done)

    block: list[tuple[int, bytes]] = []
    # One chunk commits while the next one is parsed: the database works in its own thread
    # (aiosqlite, or the server for PostgreSQL), so the two overlap.
    in_flight: asyncio.Task[None] | None = None

    async def commit(
        lines: list[tuple[int, WriteBatch]],
        run: list[int],
        accepted: int,
        rejected: list[RejectedLine],
        progress_at: int | None,
    ) -> None:
        batch = WriteBatch()
        for _, item in lines:
            batch.extend(item)
        try:
            await store.apply([batch], import_chunk=(scope, import_id, run[0], run[-1]))
        except DataError:
            # A value the database refuses must cost its own line, not the chunk (nor a
            # 500): apply line by line, each recorded as its own chunk.
            accepted, more = await _apply_lines(store, scope, import_id, run, lines)
            rejected = sorted([*rejected, *more], key=lambda r: r.line_no)
        report.accepted += accepted
        report.rejected.extend(rejected)
        if progress is not None and progress_at is not None:
            progress(progress_at)  # reported once committed, so it never overstates

    async def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            task, in_flight = in_flight, None
            await task

    async def flush(last_line: int) -> None:
        nonlocal in_flight
        pending = [(n, line) for n, line in block if not applied(n)]
        report.skipped += len(block) - len(pending)
        by_number = dict(pending)
        runs = list(_runs([n for n, _ in pending]))
        block.clear()
        for i, run in enumerate(runs):
            lines: list[tuple[int, WriteBatch]] = []
            accepted = 0
            rejected: list[RejectedLine] = []
            for n in run:
                parsed = parse_record(by_number[n], n)
                if parsed is None:
                    continue
                if isinstance(parsed, RejectedLine):
                    rejected.append(parsed)
                    continue
                target = await projects.resolve(parsed)
                if isinstance(target, str):
                    detail = f"org {parsed.org!r}, project {parsed.project!r}"
                    rejected.append(RejectedLine(n, target, detail))
                    continue
                item = record_batch(parsed, target, received_at)
                reason = rejection(item)
                if reason is not None:
                    rejected.append(RejectedLine(n, reason))
                else:
                    accepted += 1
                lines.append((n, item))
            await settle()
            at = last_line if i == len(runs) - 1 else None
            in_flight = asyncio.create_task(commit(lines, run, accepted, rejected, at))
        if not runs and progress is not None:
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
        await settle()
    finally:
        if in_flight is not None:
            # Let a chunk already on its way finish: it commits whole or not at all.
            await asyncio.gather(in_flight, return_exceptions=True)
    return report


async def _apply_lines(
    store: SessionStore,
    scope: int,
    import_id: str,
    run: list[int],
    lines: list[tuple[int, WriteBatch]],
) -> tuple[int, list[RejectedLine]]:
    """Apply a chunk's lines one transaction each; a line the database refuses is rejected
    as `unstorable` (and recorded, with nothing applied, so re-runs skip it too)."""
    accepted = 0
    rejected: list[RejectedLine] = []
    batches = dict(lines)
    for n in run:
        batch = batches.get(n, WriteBatch())
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
