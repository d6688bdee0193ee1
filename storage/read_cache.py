"""A small in-process cache of account reads that only ever grow (found keys, tokens,
projects), so that every API request does not pay a database round trip to learn what
it learnt a moment ago.

Only rows that exist are cached: something created a moment ago by another process
(`relhealth tokens create`) is found at once, and a flood of made-up values never
fills the cache. Entries expire after `ttl` seconds, so a change made elsewhere (a key
deactivated by another process) is seen within that time. The size is bounded; the
oldest entry goes first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ReadCache(Generic[K, V]):
    __slots__ = ("_clock", "_entries", "max_entries", "ttl")

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        entries = self._entries
        entries.pop(key, None)
        while len(entries) >= self.max_entries:
            del entries[next(iter(entries))]
        entries[key] = (self._clock() + self.ttl, value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
