# mypy: disable-error-code="untyped-decorator"
"""`ProjectHealth`: a project's numbers in one scope (its id includes the scope)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.connection import DEFAULT_PAGE, Connection
from gql.core.context import ContextInfo
from gql.core.enums import ClientDimension
from gql.core.errors import user_errors
from gql.core.ids import global_id
from gql.core.scalars import Count
from gql.core.scope import ResolvedScope, Scope
from gql.health.scoped import ProjectScopeKey, Summary, summary_loader
from gql.health.types import GroupHealth
from gql.node import Node
from gql.projects.loaders import RecentDataKey
from gql.releases.health import ReleaseHealth
from gql.releases.ordering import ReleaseOrder, releases_page
from gql.releases.splits import dimension_page
from resolvers.sessions.fields import RELEASE_VERSION_GROUP_BY

if TYPE_CHECKING:
    from gql.projects.types import Project

_PAGE = Annotated[int, strawberry.argument(description="Page size, at most 100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


@strawberry.type(description="A project's numbers in one scope (window, environments, `at`).")
class ProjectHealth(Node):
    project_id: strawberry.Private[int]
    context: strawberry.Private[Scope]

    @classmethod
    def of(cls, project_id: int, scope: Scope) -> ProjectHealth:
        return cls(
            id=global_id("ProjectHealth", project_id, scope.key()), project_id=project_id, context=scope
        )

    async def _summary(self, info: ContextInfo) -> Summary:
        return await summary_loader(info).load(ProjectScopeKey(self.project_id, self.context))

    @strawberry.field(description="The scope these numbers were computed in.")
    def scope(self) -> ResolvedScope:
        return ResolvedScope.of(self.context)

    @strawberry.field(description="The project.")
    async def project(self, info: ContextInfo) -> Annotated[Project, strawberry.lazy("gql.projects.types")]:
        from gql.projects.types import Project

        found = await info.context.loaders.project_by_id.load(self.project_id)
        assert found is not None
        return Project.from_info(found)

    @strawberry.field(description="Sessions started in the window; 0 without data.")
    async def sessions(self, info: ContextInfo) -> Count:
        return Count((await self._summary(info)).sessions)

    @strawberry.field(description="Distinct users in the window; 0 without data.")
    async def users(self, info: ContextInfo) -> Count:
        return Count((await self._summary(info)).users)

    @strawberry.field(description="Percent 0..100 of sessions that did not crash; null without sessions.")
    async def crash_free_session_rate(self, info: ContextInfo) -> float | None:
        return (await self._summary(info)).crash_free_session_rate

    @strawberry.field(description="Percent 0..100 of users without a crashed session; null without users.")
    async def crash_free_user_rate(self, info: ContextInfo) -> float | None:
        return (await self._summary(info)).crash_free_user_rate

    @strawberry.field(
        description="Whether the project has any session data in the 90 days before `at`, "
        "in the scope's environments (whatever the window)."
    )
    async def has_session_data(self, info: ContextInfo) -> bool:
        s = self.context
        with user_errors():
            found = await info.context.loaders.recent_data_by_project.load(
                RecentDataKey(self.project_id, s.environments, s.at)
            )
        return bool(found)

    @strawberry.field(
        description="The same numbers over the window of the same length just before this "
        "one (evaluated at its start), for comparing."
    )
    def previous_period(self) -> ProjectHealth:
        return ProjectHealth.of(self.project_id, self.context.previous())

    @strawberry.field(
        description="The project's releases with sessions in the window, ordered (the "
        "window must be a period). `totalCount` is how many releases had sessions."
    )
    async def releases(
        self,
        info: ContextInfo,
        first: _PAGE = DEFAULT_PAGE,
        after: _AFTER = None,
        order_by: Annotated[
            ReleaseOrder | None, strawberry.argument(description="The order; most sessions first by default.")
        ] = None,
    ) -> Connection[ReleaseHealth]:
        return await releases_page(info, self.context, [self.project_id], order_by, first, after)

    @strawberry.field(description="The project's sessions split by a client dimension, largest first.")
    async def breakdown(
        self,
        info: ContextInfo,
        by: Annotated[ClientDimension, strawberry.argument(description="The dimension to split by.")],
        first: _PAGE = DEFAULT_PAGE,
        after: _AFTER = None,
    ) -> Connection[GroupHealth]:
        return await dimension_page(info, self.context, [self.project_id], by.value, first, after)

    @strawberry.field(
        description="The project's sessions grouped by version without package and build "
        "(`25.11.2+345` and `pkg@25.11.2+346` are one group `25.11.2`), largest first."
    )
    async def versions(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[GroupHealth]:
        return await dimension_page(
            info, self.context, [self.project_id], RELEASE_VERSION_GROUP_BY, first, after
        )
