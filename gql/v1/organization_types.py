# mypy: disable-error-code="untyped-decorator"
"""`Organization` and its environment records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.context import ContextInfo

if TYPE_CHECKING:
    from gql.v1.project_types import Project


@strawberry.type(description="An environment record of the organization.")
class Environment:
    id: strawberry.ID
    name: str


@strawberry.type
class Organization:
    slug: str

    @strawberry.field
    async def projects(
        self, info: ContextInfo
    ) -> list[Annotated[Project, strawberry.lazy("gql.v1.project_types")]]:
        # Imported here: `Project.organization` refers to this module at import time.
        from gql.v1.project_types import Project

        found = await info.context.loaders.projects_by_org.load(info.context.org_id)
        return [Project.from_info(p) for p in found]

    @strawberry.field(
        description="Environment records (ids for the backend functions that "
        "take environment ids), ordered by name."
    )
    async def environments(self, info: ContextInfo) -> list[Environment]:
        found = await info.context.loaders.environments_by_org.load(info.context.org_id)
        return [Environment(id=strawberry.ID(str(i)), name=n) for n, i in sorted(found.items())]
