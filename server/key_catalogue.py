"""The DSN keys, held in process for the envelope endpoint.

Ingest is public: anyone may send any 32-character key, as fast as they like. The whole key
table is therefore loaded into memory and answered from there, so that a flood of made-up
keys costs a dictionary lookup, not a database query. The snapshot is reloaded

* after `ttl` seconds (a key revoked by another process stops working within it),
* at once after a key change made through this process's AccountStore, and
* on a miss, at most once per `miss_refresh` seconds (a key created a moment ago by
  `relhealth projects create` works after at most that long, and a flood of unknown keys
  still costs at most one query per `miss_refresh`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from storage.accounts import AccountStore, KeyInfo

#: Shortest pause between two reloads caused by unknown keys.
MISS_REFRESH_SECONDS = 1.0


class KeyCatalogue:
    def __init__(
        self,
        accounts: AccountStore,
        ttl: float = 10.0,
        miss_refresh: float = MISS_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = accounts
        self.ttl = ttl
        self.miss_refresh = miss_refresh
        self._clock = clock
        self._keys: dict[str, KeyInfo] = {}
        self._loaded_at: float | None = None
        self._generation = -1
        self._lock = asyncio.Lock()
        self.reloads = 0

    async def lookup(self, public_key: str) -> KeyInfo | None:
        now = self._clock()
        if self._stale(now):
            await self._reload(lambda: self._stale(self._clock()))
        found = self._keys.get(public_key)
        if found is None and self._may_refresh_on_miss(now):
            await self._reload(lambda: self._may_refresh_on_miss(self._clock()))
            found = self._keys.get(public_key)
        return found

    def _stale(self, now: float) -> bool:
        return (
            self._loaded_at is None
            or now - self._loaded_at >= self.ttl
            or self._generation != self.accounts.key_generation
        )

    def _may_refresh_on_miss(self, now: float) -> bool:
        return self._loaded_at is None or now - self._loaded_at >= self.miss_refresh

    async def _reload(self, still_needed: Callable[[], bool]) -> None:
        # One reload at a time; requests that waited for it use its result.
        async with self._lock:
            if not still_needed():
                return
            generation = self.accounts.key_generation
            keys = await self.accounts.all_keys()
            self._keys = {k.public_key: k for k in keys}
            self._generation = generation
            self._loaded_at = self._clock()
            self.reloads += 1
