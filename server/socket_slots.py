"""WebSocket connections per token, per server process.

Each subscription of a token is capped (`subscription_max_per_token`), but a connection
costs memory and a task before it subscribes to anything: without a cap per token, one
valid token could hold any number of idle sockets. Slots are keyed by the hash of the
presented token, taken when `connection_init` arrives (before the token is checked, so a
burst of inits cannot pass the cap together) and given back when the connection ends; an
invalid token takes a slot of its own key only until its 4403 close, so nobody can fill
another token's slots without holding that token."""

from __future__ import annotations

from collections import Counter


class SocketSlots:
    def __init__(self, per_token: int) -> None:
        self.per_token = per_token
        self.open: Counter[str] = Counter()

    def take(self, key: str) -> bool:
        """Take a slot of `key`; False when all of its slots are taken."""
        if self.open[key] >= self.per_token:
            return False
        self.open[key] += 1
        return True

    def give(self, key: str) -> None:
        self.open[key] -= 1
        if self.open[key] <= 0:
            del self.open[key]
