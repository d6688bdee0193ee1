"""Per-request GraphQL context: who asks, the request's one clock, and fresh loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import GraphQLError

from gql.core.budget import BudgetState
from gql.loaders import Loaders
from resolvers.options import QueryOptions
from storage.accounts import AccountStore, TokenInfo
from storage.protocol import Store


@dataclass
class Context:
    store: Store
    accounts: AccountStore
    options: QueryOptions
    token: TokenInfo
    #: The request's reference time (unix seconds), read once; `now` arguments override it.
    now: float
    loaders: Loaders = field(init=False)
    request: Any = None
    response: Any = None
    #: Whose cost budget this operation spends (a hash of the token), and the budget after
    #: it was charged (set before execution by gql.core.limits.QueryCostLimit).
    budget_key: str = ""
    cost: BudgetState | None = None
    max_cost: int = 0
    #: Webhook URLs may name loopback and private addresses (`webhook_allow_private`).
    webhook_allow_private: bool = False
    #: The server's subscriptions (`gql.subscriptions.hub.SubscriptionHub`): set only for
    #: operations received over WebSocket.
    subscriptions: Any = None
    #: Why an extension refused the operation before execution (cost, budget, variables):
    #: subscriptions start regardless, so their fields raise it (gql/subscriptions/feed.py).
    refusal: GraphQLError | None = None
    #: The server clock, for `renew`.
    clock: Callable[[], float] | None = None
    base_options: QueryOptions = field(init=False)

    def __post_init__(self) -> None:
        self.base_options = self.options
        # Retention is judged against the later of a field's `now` and this clock.
        self.options = self.options.at(self.now)
        self.loaders = Loaders(self.store, self.accounts, self.options, self.token.org_id)

    def renew(self) -> None:
        """A fresh clock and loaders, as a new request would have: each event of a
        subscription is resolved at its own time, and loaders never grow with its age."""
        if self.clock is not None:
            self.now = self.clock()
        self.options = self.base_options.at(self.now)
        self.loaders = Loaders(self.store, self.accounts, self.options, self.token.org_id)

    @property
    def org_id(self) -> int:
        return self.token.org_id


#: What every field receives as `info`.
ContextInfo = strawberry.Info[Context, None]
