"""The frozen v1 schema, served at /graphql/v1 until its sunset (CHANGELOG)."""

from __future__ import annotations

import strawberry

from gql.core.budget import CostBudget
from gql.core.cache import DocumentCache
from gql.core.cost_rules import V1_MODEL
from gql.schema import GraphQLLimits, build_subgraph
from gql.v1.project_types import Project
from gql.v1.query import Query
from gql.v1.release_types import Release


def build_v1_schema(
    limits: GraphQLLimits | None = None,
    *,
    cache: DocumentCache | None = None,
    budget: CostBudget | None = None,
) -> strawberry.Schema:
    return build_subgraph(Query, [Release, Project], limits or GraphQLLimits(), cache, budget, V1_MODEL)
