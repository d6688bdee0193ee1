"""What the subscription fields need from the running server: its broadcaster, the
subscription limits and the count of open subscriptions per token."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from gql.subscriptions.broadcaster import Broadcaster


@dataclass(frozen=True, slots=True)
class SubscriptionLimits:
    """From the settings (`subscription_*`, README "Subscriptions")."""

    per_token: int = 20
    per_connection: int = 10
    queue_size: int = 100
    replay_limit: int = 1000


class TooManySubscriptions(Exception):
    pass


class SubscriptionHub:
    def __init__(self, engine: AsyncEngine, broadcaster: Broadcaster, limits: SubscriptionLimits) -> None:
        self.engine = engine
        self.broadcaster = broadcaster
        self.limits = limits
        #: Open subscriptions by token key (a hash of the token), in this process.
        self.open: Counter[str] = Counter()

    def check(self, token_key: str) -> None:
        if self.open[token_key] >= self.limits.per_token:
            raise TooManySubscriptions

    def acquire(self, token_key: str) -> None:
        self.check(token_key)
        self.open[token_key] += 1

    def release(self, token_key: str) -> None:
        self.open[token_key] -= 1
        if self.open[token_key] <= 0:
            del self.open[token_key]
