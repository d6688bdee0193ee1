"""The start/stop of a server's periodic background task (retention, alerts)."""

from __future__ import annotations

import asyncio
import contextlib


class PeriodicTask:
    """Runs `_run` as one asyncio task while started; `interval` 0 never starts it."""

    name = "relhealth-periodic"
    interval: float
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
