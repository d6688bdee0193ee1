"""The Strawberry schema (a Federation v2 subgraph) and its execution extensions. The
root fields come from the domains (`gql.v1.query`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import strawberry
from strawberry.extensions import AddValidationRules, MaskErrors
from strawberry.federation.types import FieldSet
from strawberry.schema.config import StrawberryConfig

from gql.core.approximation import ApproximateCounts
from gql.core.budget import CostBudget
from gql.core.cache import DocumentCache, ParseAndValidate
from gql.core.cost import CostLimits
from gql.core.cost_model_v2 import V2_MODEL
from gql.core.cost_rules import CostModel
from gql.core.document_limits import VariableLimits, document_rules
from gql.core.errors import should_mask
from gql.core.execution import ExecutionContext
from gql.core.limits import QueryCostLimit
from gql.core.scalars import Count, CountScalar, DateTimeScalar
from gql.core.yielding import YieldingLists
from gql.federation.subgraph import FIELD_SET, SubgraphSchema


@dataclass(frozen=True, slots=True)
class GraphQLLimits:
    """Every limit of the GraphQL API (from the settings; README "Query cost and limits")."""

    max_depth: int = 12
    max_aliases: int = 30
    cost: CostLimits = field(default_factory=CostLimits)
    budget: int = 1_000_000
    budget_window: int = 60
    max_tokens: int = 10_000
    max_length: int = 1024 * 1024
    cache_bytes: int = 32 * 1024 * 1024


def build_subgraph(
    query: type,
    types: list[type],
    limits: GraphQLLimits,
    cache: DocumentCache | None,
    budget: CostBudget | None,
    model: CostModel = V2_MODEL,
    mutation: type | None = None,
    subscription: type | None = None,
) -> strawberry.Schema:
    """A subgraph schema of `query` with every limit and extension of the API."""
    # Validation rules are built once: cached documents were validated by exactly these.
    rules = document_rules(limits.max_depth, limits.max_aliases)
    # Shared by every request of this schema (one per server process).
    cache = cache if cache is not None else DocumentCache(limits.cache_bytes)
    budget = budget if budget is not None else CostBudget(limits.budget, limits.budget_window)
    return SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=types,
        federation_version="2.5",
        execution_context_class=ExecutionContext,
        scalar_overrides={FieldSet: FIELD_SET},
        config=StrawberryConfig(
            auto_camel_case=True, scalar_map={datetime: DateTimeScalar, Count: CountScalar}
        ),
        extensions=[
            lambda: AddValidationRules(rules),
            VariableLimits,
            # Before ParseAndValidate: its on_execute sees a refusal, and refused
            # documents are not cached.
            lambda: QueryCostLimit(limits.cost, budget, model),
            lambda: ParseAndValidate(cache, max_tokens=limits.max_tokens, max_length=limits.max_length),
            lambda: MaskErrors(should_mask_error=should_mask),
            YieldingLists,
            ApproximateCounts,
        ],
    )


def build_schema(
    limits: GraphQLLimits = GraphQLLimits(),
    *,
    cache: DocumentCache | None = None,
    budget: CostBudget | None = None,
) -> strawberry.Schema:
    """The current API (v2), served at /graphql."""
    from gql.mutation import Mutation
    from gql.query import Query, entity_types
    from gql.subscriptions.root import Subscription

    return build_subgraph(
        Query, entity_types(), limits, cache, budget, mutation=Mutation, subscription=Subscription
    )


__all__ = ["GraphQLLimits", "build_schema", "build_subgraph"]
