"""The periodic retention cleanup of a running server (`storage.retention`).

Every server process runs it (uvicorn workers and servers on other machines alike); the
deletes are idempotent and never wait for writers, so that is harmless. The first run
comes a few minutes after start-up (randomized, so that processes started together do not
clean up together), then one every `retention_interval_seconds`; 0 disables the task, for
deployments that run `relhealth cleanup` from cron instead. Deletion uses the server
clock, the same clock the queries judge retention by.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from jobs.periodic import PeriodicTask
from storage.retention import delete_expired

log = logging.getLogger(__name__)

#: Upper bound of the delay before the first run after start-up, in seconds.
FIRST_RUN_DELAY = 300.0


class RetentionTask(PeriodicTask):
    """`delete_expired` on `engine` every `interval` seconds (0: never), judged by
    `now()` (the server clock) against `retention` (granularity -> seconds)."""

    name = "relhealth-retention"

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval: float,
        now: Callable[[], float],
        retention: Mapping[int, int],
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.now = now
        self.retention = retention

    async def run_once(self) -> dict[str, int]:
        deleted = await delete_expired(self.engine, now=self.now(), retention=self.retention)
        if any(deleted.values()):
            log.info("retention cleanup deleted %s", deleted)
        return deleted

    async def _run(self) -> None:
        await asyncio.sleep(min(self.interval, FIRST_RUN_DELAY) * random.uniform(0.5, 1.0))
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention cleanup failed; retrying at the next interval")
            await asyncio.sleep(self.interval * random.uniform(0.9, 1.1))
