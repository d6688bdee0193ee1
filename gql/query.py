"""The root `Query` type of API v2: entry points only; everything else hangs off entities.
`sessions` stays as the Sentry-compatible escape hatch."""

from __future__ import annotations

import strawberry

from gql import nodes
from gql.alerts.types import AlertRule
from gql.core.rate_limit import RateLimit, resolve_rate_limit
from gql.gates.types import HealthGate
from gql.organizations.types import Environment, OrganizationHealth
from gql.projects.health import ProjectHealth
from gql.projects.types import Project
from gql.releases.health import ReleaseHealth
from gql.releases.types import Release
from gql.sessions import fields as sessions_fields
from gql.sessions.types import SessionsResult
from gql.webhooks.types import WebhookEndpoint


@strawberry.type(description="The entry points of the API.")
class Query:
    viewer = nodes.viewer
    organization = nodes.organization
    project = nodes.project
    release = nodes.release
    node = nodes.node
    nodes = nodes.nodes
    sessions: SessionsResult = sessions_fields.sessions

    rate_limit: RateLimit | None = strawberry.field(
        resolver=resolve_rate_limit,
        description="The caller's query-cost budget after this operation; null outside /graphql.",
    )


def entity_types() -> list[type]:
    """Types reachable only through `node` and the federation entities."""
    return [
        Release,
        Project,
        ReleaseHealth,
        ProjectHealth,
        OrganizationHealth,
        Environment,
        HealthGate,
        AlertRule,
        WebhookEndpoint,
    ]
