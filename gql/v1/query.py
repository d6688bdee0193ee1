"""The root `Query` type, composed of the domains' root fields in the order the SDL
prints them (`schema.graphql`)."""

from __future__ import annotations

import strawberry

from gql.core.rate_limit import RateLimit, resolve_rate_limit
from gql.sessions import fields as sessions_fields
from gql.sessions.types import SessionsResult
from gql.v1 import health_fields
from gql.v1 import organization_fields as organizations_fields
from gql.v1 import project_fields as projects_fields
from gql.v1 import release_fields as releases_fields


@strawberry.type
class Query:
    organization = organizations_fields.organization
    project = projects_fields.project
    release = releases_fields.release
    releases = releases_fields.releases
    has_health_data = health_fields.has_health_data
    releases_have_health_data = health_fields.releases_have_health_data
    oldest_health_data = health_fields.oldest_health_data
    changed_release_adoptions = health_fields.changed_release_adoptions
    sessions_per_project = health_fields.sessions_per_project
    sessions: SessionsResult = sessions_fields.sessions

    rate_limit: RateLimit | None = strawberry.field(
        resolver=resolve_rate_limit,
        description="The caller's query-cost budget after this operation; null outside /graphql.",
    )
