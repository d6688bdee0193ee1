"""`Query.rateLimit`: the caller's cost budget, as GitHub's GraphQL API reports it."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gql.core.context import Context


@strawberry.type(
    description='The caller\'s query-cost budget after this operation (README "Query cost and limits").'
)
class RateLimit:
    cost: int = strawberry.field(description="Points this operation cost (estimated before it ran).")
    limit: int = strawberry.field(description="Points per window of the token.")
    remaining: int = strawberry.field(description="Points left now.")
    reset_at: datetime = strawberry.field(description="When the budget is full again.")
    max_cost: int = strawberry.field(description="Largest cost of one operation.")


def resolve_rate_limit(info: strawberry.Info[Context, None]) -> RateLimit | None:
    """Null when the operation ran without a cost budget (not through /graphql)."""
    state = info.context.cost
    if state is None:
        return None
    return RateLimit(
        cost=state.cost,
        limit=state.limit,
        remaining=state.remaining,
        reset_at=datetime.fromtimestamp(state.reset_at, UTC),
        max_cost=info.context.max_cost,
    )
