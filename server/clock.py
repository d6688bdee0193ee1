"""The receive-time clock. Production uses the system clock; tests may pin it so that
recorded envelopes can be replayed with their original timestamps."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in unix seconds."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that reads `at` until moved; for tests only."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at
