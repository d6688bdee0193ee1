"""Per-token cost budgets: a token bucket of `limit` points that refills continuously at
`limit / window` points per second (GitHub's and Shopify's model for GraphQL APIs).

Buckets live in the server process (as the session quota); with several workers each
process keeps its own. Idle full buckets are forgotten, so memory grows only with the
tokens active within one window."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Forget full buckets once there are this many (they carry no state).
_PRUNE_AT = 10_000


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A bucket after a request: what it cost, what remains, and when it is full again."""

    cost: int
    limit: int
    remaining: int
    #: Unix time at which the bucket is full again.
    reset_at: float
    #: Seconds until `cost` could be afforded (0 when it was charged).
    retry_after: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0.0


class CostBudget:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.rate = limit / window
        self.clock = clock
        #: key -> (points available, unix time they were computed).
        self._buckets: dict[str, tuple[float, float]] = {}

    def _available(self, key: str, now: float) -> float:
        points, at = self._buckets.get(key, (float(self.limit), now))
        return min(float(self.limit), points + (now - at) * self.rate)

    def charge(self, key: str, cost: int) -> BudgetState:
        """Take `cost` points from `key`'s bucket, or refuse (nothing taken) with the wait."""
        now = self.clock()
        available = self._available(key, now)
        if cost > available:
            # (The caller refuses costs above `limit` outright: they could never be paid.)
            wait = (cost - available) / self.rate
            return self._state(cost, available, now, retry_after=max(wait, 0.001))
        available -= cost
        self._buckets[key] = (available, now)
        if len(self._buckets) > _PRUNE_AT:
            self._prune(now)
        return self._state(cost, available, now)

    def peek(self, key: str) -> BudgetState:
        now = self.clock()
        return self._state(0, self._available(key, now), now)

    def _state(self, cost: int, available: float, now: float, retry_after: float = 0.0) -> BudgetState:
        return BudgetState(
            cost=cost,
            limit=self.limit,
            remaining=int(available),
            reset_at=now + (self.limit - available) / self.rate,
            retry_after=retry_after,
        )

    def _prune(self, now: float) -> None:
        for key in [k for k in self._buckets if self._available(k, now) >= self.limit]:
            del self._buckets[key]
