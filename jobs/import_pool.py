"""Where bulk-import runs are parsed: in the importing process, or in worker processes.

Parsing and validating lines is most of an import's CPU time, and pure Python: threads
cannot share it out (the GIL), processes can. `ParsePool` parses runs in a
`ProcessPoolExecutor` while the importing process commits earlier runs; with no
workers it parses in place. Workers are started with `spawn`, never `fork`: the importing
process runs an event loop and database threads, which a forked child must not inherit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from jobs.import_parse import MissingOrgs, OrgIndex, ParsedRun, parse_run
from storage.sql.import_rows import FoldSpec


class ParsePool:
    """Parses runs of lines, in `workers` processes (0: in the calling process)."""

    def __init__(self, workers: int, only_org: str | None, received_at: float) -> None:
        self.workers = workers
        self.only_org = only_org
        self.received_at = received_at
        self._executor: ProcessPoolExecutor | None = None

    async def parse(
        self, lines: Sequence[tuple[int, bytes | str]], orgs: OrgIndex, fold: FoldSpec | None = None
    ) -> ParsedRun | MissingOrgs:
        """Parse one run, folded into fact rows with `fold` (`storage.sql.import_rows`).
        In a worker the lines and the snapshots travel pickled, and the result comes back
        folded or compact (`ParsedRun.compact`)."""
        if self.workers <= 0:
            return parse_run(lines, orgs, self.only_org, self.received_at, fold=fold)
        if self._executor is None:
            spawn = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=spawn, initializer=_exit_with_parent, initargs=(os.getpid(),)
            )
        loop = asyncio.get_running_loop()
        snapshot = {org: dict(index) if index is not None else None for org, index in orgs.items()}
        return await loop.run_in_executor(
            self._executor, _parse_compact, list(lines), snapshot, self.only_org, self.received_at, fold
        )

    def close(self) -> None:
        """Stop the workers; runs not started are cancelled (their lines were not committed,
        so a re-run applies them)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """In a worker: exit when the importing process is gone. A killed import (SIGKILL,
    OOM) cannot shut its pool down, and its workers would otherwise wait forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _parse_compact(
    lines: list[tuple[int, bytes | str]],
    orgs: OrgIndex,
    only_org: str | None,
    received_at: float,
    fold: FoldSpec | None = None,
) -> ParsedRun | MissingOrgs:
    return parse_run(lines, orgs, only_org, received_at, compact=True, fold=fold)
