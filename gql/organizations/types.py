# mypy: disable-error-code="untyped-decorator"
"""`Organization`, its environments, `OrganizationHealth` and the `Viewer` (API v2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.connection import DEFAULT_PAGE, Connection, page_of, page_window
from gql.core.context import ContextInfo
from gql.core.ids import global_id, project_id_of
from gql.core.scope import HealthScope, ResolvedScope, Scope
from gql.node import Node
from gql.projects.health import ProjectHealth
from gql.releases.health import ReleaseHealth
from gql.releases.ordering import ReleaseOrder, releases_page
from gql.webhooks.types import WebhookEndpoint
from storage import webhooks

if TYPE_CHECKING:
    from gql.projects.types import Project

_PAGE = Annotated[int, strawberry.argument(description="Page size, at most 100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


@strawberry.type(description="An environment that sent sessions.")
class Environment(Node):
    name: str = strawberry.field(description="The environment's name (empty for sessions without one).")


async def _project_ids(info: ContextInfo) -> list[int]:
    return [p.id for p in await info.context.loaders.projects_by_org.load(info.context.org_id)]


@strawberry.type(description="An organization's numbers in one scope (window, environments, `at`).")
class OrganizationHealth(Node):
    context: strawberry.Private[Scope]
    slug: strawberry.Private[str]

    @classmethod
    def of(cls, slug: str, scope: Scope) -> OrganizationHealth:
        return cls(id=global_id("OrganizationHealth", slug, scope.key()), context=scope, slug=slug)

    @strawberry.field(description="The scope these numbers were computed in.")
    def scope(self) -> ResolvedScope:
        return ResolvedScope.of(self.context)

    @strawberry.field(
        description="Releases of every project (or of `projects`) with sessions in the "
        "window, ordered (the window must be a period)."
    )
    async def releases(
        self,
        info: ContextInfo,
        first: _PAGE = DEFAULT_PAGE,
        after: _AFTER = None,
        order_by: Annotated[
            ReleaseOrder | None, strawberry.argument(description="The order; most sessions first by default.")
        ] = None,
        projects: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Only these projects (global or numeric ids); null for all."),
        ] = None,
    ) -> Connection[ReleaseHealth]:
        readable = await _project_ids(info)
        ids = readable if projects is None else [p for p in map(project_id_of, projects) if p in readable]
        return await releases_page(info, self.context, ids, order_by, first, after)

    @strawberry.field(description="Every project in the scope, by slug.")
    async def projects(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[ProjectHealth]:
        found = sorted(
            await info.context.loaders.projects_by_org.load(info.context.org_id), key=lambda p: p.slug
        )
        return page_of([ProjectHealth.of(p.id, self.context) for p in found], first, after)


@strawberry.type(description="An organization: the token's own.")
class Organization(Node):
    slug: str = strawberry.field(description="The organization's slug.")

    @classmethod
    def of(cls, slug: str) -> Organization:
        return cls(id=global_id("Organization", slug), slug=slug)

    @strawberry.field(description="The organization's projects, by slug.")
    async def projects(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[Annotated[Project, strawberry.lazy("gql.projects.types")]]:
        from gql.projects.types import Project

        found = sorted(
            await info.context.loaders.projects_by_org.load(info.context.org_id), key=lambda p: p.slug
        )
        return page_of([Project.from_info(p) for p in found], first, after)

    @strawberry.field(description="The environments that sent sessions, by name.")
    async def environments(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[Environment]:
        found = await info.context.loaders.environments_by_org.load(info.context.org_id)
        envs = [Environment(id=global_id("Environment", self.slug, n), name=n) for n in sorted(found)]
        offset, limit = page_window(first, after)
        return Connection.of(envs[offset : offset + limit], offset, len(envs))

    @strawberry.field(
        description="The organization's webhook endpoints, oldest first (needs no more than org:read)."
    )
    async def webhook_endpoints(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[WebhookEndpoint]:
        found = await webhooks.endpoints_of(info.context.accounts.engine, info.context.org_id)
        return page_of([WebhookEndpoint.of(e) for e in found], first, after)

    @strawberry.field(description="The organization's numbers in a scope.")
    def health(
        self,
        info: ContextInfo,
        scope: Annotated[HealthScope, strawberry.argument(description="Window, environments and `at`.")],
    ) -> OrganizationHealth:
        return OrganizationHealth.of(self.slug, Scope.of(scope, info.context.now))


@strawberry.type(description="Who is asking: the token's organization and scopes.")
class Viewer:
    organization: Organization = strawberry.field(description="The token's organization.")
    scopes: list[str] = strawberry.field(description="The token's scopes, e.g. `org:read`.")
