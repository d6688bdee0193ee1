"""A scope's releases in an order (API v2's `releases(orderBy:)`): the stability ranking
of `release-health.md` 5.10 over the scope's period, descending, or its reverse."""

from __future__ import annotations

import strawberry

from gql.core.connection import Connection, page_window
from gql.core.context import ContextInfo
from gql.core.enums import OrderDirection, ReleaseOrderField
from gql.core.errors import BadUserInput
from gql.core.scope import Scope
from gql.releases.health import ReleaseHealth
from gql.releases.loaders import ProjectReleasesKey
from resolvers import health
from resolvers.errors import InvalidQuery


@strawberry.input(description="How to order releases.")
class ReleaseOrder:
    field: ReleaseOrderField = strawberry.field(description="What to order by, over the scope's window.")
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.DESC,
        description="DESC (the default): largest first, releases without a value (no users) "
        "last, ties by project id then version. ASC: exactly the reverse.",
    )


DEFAULT_ORDER = ReleaseOrder(field=ReleaseOrderField.SESSIONS)


async def releases_page(
    info: ContextInfo,
    scope: Scope,
    project_ids: list[int],
    order: ReleaseOrder | None,
    first: int,
    after: str | None,
) -> Connection[ReleaseHealth]:
    """The releases with data in the scope's window, ordered; each in the same scope."""
    order = order or DEFAULT_ORDER
    offset, limit = page_window(first, after)
    if scope.period is None:
        raise BadUserInput("Releases are ranked over a period: give the scope `window: {period: …}`.")
    try:
        if len(project_ids) == 1:
            # One project's ranking: batched per request, so that every project of a page
            # (`OrganizationHealth.projects { nodes { releases } }`) costs one question.
            key = ProjectReleasesKey(
                project_ids[0], order.field.value, scope.period.value, scope.environments, scope.at
            )
            ranked = list(await info.context.loaders.project_releases.load(key) or [])
        else:
            ranked, _ = await health.releases_by_stability(
                info.context.store,
                project_ids,
                now=scope.at,
                scope=order.field.value,
                stats_period_name=scope.period.value,
                environments=scope.environment_list,
                retention=info.context.options.retention,
            )
    except InvalidQuery as exc:
        raise BadUserInput(exc.message) from None
    total = len(ranked)
    if order.direction is OrderDirection.ASC:
        ranked = ranked[::-1]
    ranked = ranked[offset : offset + limit]
    return Connection.of([ReleaseHealth.of(pair, scope) for pair in ranked], offset, total)
