"""Allowlist mode's registered operations, read from the `persisted_query` table.

The whole list is held in memory (it is what the first-party clients send: dozens to a
few thousand documents) and read again once it is older than `refresh_seconds`, so an
operation added or removed by `relhealth persisted-queries` takes effect within that
time in every server process, and an unknown hash never costs a database query of its
own."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from gql.persisted import PersistedQueryError
from storage.persisted_queries import load

log = logging.getLogger("relhealth.graphql")

ALLOWLIST_UNAVAILABLE = "ALLOWLIST_UNAVAILABLE"


class Allowlist:
    def __init__(
        self, engine: AsyncEngine, refresh_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._documents: dict[str, str] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, digest: str) -> str | None:
        """The registered document with this hash, or None."""
        documents = await self._current()
        return documents.get(digest)

    async def _current(self) -> dict[str, str]:
        if self._documents is not None and self.clock() - self._loaded_at < self.refresh_seconds:
            return self._documents
        async with self._lock:  # one reload at a time; the others wait for it
            if self._documents is None or self.clock() - self._loaded_at >= self.refresh_seconds:
                try:
                    rows = await load(self.engine)
                except Exception:
                    if self._documents is None:
                        log.exception("the allowlist could not be read")
                        raise PersistedQueryError(
                            "The allowlist of registered operations cannot be read; retry later.",
                            ALLOWLIST_UNAVAILABLE,
                        ) from None
                    log.exception("the allowlist could not be read again; serving the previous one")
                    self._loaded_at = self.clock()
                    return self._documents
                self._documents = {row.sha256: row.document for row in rows}
                self._loaded_at = self.clock()
        return self._documents
