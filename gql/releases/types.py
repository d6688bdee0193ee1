# mypy: disable-error-code="untyped-decorator"
"""`Release` (API v2): a release's identity, a federation entity. Its numbers are on
`ReleaseHealth`, reached through `health(scope:)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.core.context import ContextInfo
from gql.core.ids import as_id, global_id, invalid_id, parse_global_id, parse_id, project_id_of
from gql.core.scope import HealthScope, Scope
from gql.federation.entities import key_field
from gql.node import Node
from gql.releases.health import ReleaseHealth
from gql.releases.version import VersionInfo

if TYPE_CHECKING:
    from gql.projects.types import Project


@strawberry.federation.type(
    keys=["id", "projectId version"],
    description="A release of a project: a version that sent sessions. Identity only; its "
    "numbers are on `health(scope:)`.",
)
class Release(Node):
    project_id: strawberry.ID = strawberry.field(description="The project's numeric id (as in its DSN).")
    version: str = strawberry.field(description="The release name the SDK sent, e.g. `web@1.4.2+77`.")

    @classmethod
    def of(cls, project_id: int, version: str) -> Release:
        return cls(
            id=global_id("Release", project_id, version), project_id=as_id(project_id), version=version
        )

    @property
    def pair(self) -> tuple[int, str]:
        return (int(self.project_id), self.version)

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Release | None:
        """A gateway's representation by `id`, or by `projectId` and `version` (GraphQL
        names). Another organization's release, like one never seen, is null."""
        if "id" in representation:
            pair = release_key(key_field(representation, "id", "Release"))
        else:
            pair = (
                project_id_of(key_field(representation, "projectId", "Release")),
                key_field(representation, "version", "Release"),
            )
        return await find_release(info, *pair)

    @strawberry.field(description="The project.")
    async def project(self, info: ContextInfo) -> Annotated[Project, strawberry.lazy("gql.projects.types")]:
        from gql.projects.types import Project

        found = await info.context.loaders.project_by_id.load(self.pair[0])
        assert found is not None  # a Release is only made for a readable project
        return Project.from_info(found)

    @strawberry.field(
        description="The version parsed as `package@major.minor.patch-pre+build`; null when "
        "the name is not a version."
    )
    def version_info(self) -> VersionInfo | None:
        return VersionInfo.parse(self.version)

    @strawberry.field(description="The release's numbers in a scope.")
    def health(
        self,
        info: ContextInfo,
        scope: Annotated[HealthScope, strawberry.argument(description="Window, environments and `at`.")],
    ) -> ReleaseHealth:
        return ReleaseHealth.of(self.pair, Scope.of(scope, info.context.now))


def release_key(value: str) -> tuple[int, str]:
    _, parts = parse_global_id(value, "Release")
    if len(parts) != 2 or not isinstance(parts[1], str) or type(parts[0]) is not int:
        raise invalid_id(value)
    # A forged project part (true, -1, 10**30) must not reach the database: a number
    # outside the column's range fails the whole batch of references, not just this one.
    return (parse_id(str(parts[0])), parts[1])


async def find_release(info: ContextInfo, project_id: int, version: str) -> Release | None:
    """The release when its project is the caller's and it sent sessions; else null."""
    loaders = info.context.loaders
    if await loaders.project_by_id.load(project_id) is None:
        return None
    if not await loaders.release_seen.load((project_id, version)):
        return None
    return Release.of(project_id, version)
