"""A per-process budget of envelope request bodies held in memory at once.

Each body is bounded (`max_body_size`), but nothing bounds how many arrive together: a
thousand concurrent 20 MiB bodies would be 20 GB. Bodies are counted against the budget
while they are read and until their envelope is answered; a request that would go over it
is answered 503 `failed to queue envelope` (Relay's answer when its queue is full), which
SDKs treat as a dropped envelope, and its bytes are released at once.
"""

from __future__ import annotations


class BodyBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        """Reserve `n` bytes; False (nothing reserved) when they do not fit."""
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n
