"""`Query.sessions`: Sentry's sessions query, the compatibility escape hatch."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput
from gql.sessions.inputs import SessionsQueryInput
from gql.sessions.resolvers import answer
from gql.sessions.types import SessionsResult


async def resolve_sessions(
    info: ContextInfo,
    organization: Annotated[str, strawberry.argument(description="The organization's slug.")],
    query: Annotated[SessionsQueryInput, strawberry.argument(description="Sentry's parameters.")],
) -> SessionsResult:
    if organization != info.context.token.org_slug:
        raise BadUserInput("The requested resource does not exist")
    return await answer(info, query)


sessions = strawberry.field(
    resolver=resolve_sessions,
    description="Sentry's sessions query (same parameters and numbers as "
    "GET /api/0/organizations/{org}/sessions/), with columnar series.",
)
