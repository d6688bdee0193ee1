# mypy: disable-error-code="untyped-decorator"
# (strawberry.field with arguments is an untyped decorator to mypy 1.x; the resolvers
# below are fully annotated and the schema is checked by its own tests.)
"""`Release`, a federation entity. Its fields are thin: they pass their arguments, the
release's pair and the `now` it inherited to `gql.v1.release_resolvers`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import HealthStat
from gql.core.ids import parse_id
from gql.federation.entities import release_reference
from gql.health.results import CrashFreeCheckpoint, ReleaseAdoptionStage, ReleaseStats, TimeBounds
from gql.v1 import release_resolvers as resolvers
from gql.v1.health_types import Adoption, SessionStats

if TYPE_CHECKING:
    from gql.v1.project_types import Project


@strawberry.federation.type(keys=["projectId version"], description="A release of a project.")
class Release:
    project_id: strawberry.ID
    version: str
    #: The `now` of the field that produced this release, inherited by its fields.
    inherited_now: strawberry.Private[float | None] = None

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Release | None:
        """A gateway's `_entities` representation, keyed by GraphQL names (`projectId`).
        Another organization's release, like one never seen in session data, is null."""
        found = await release_reference(info, representation)
        return None if found is None else cls(project_id=strawberry.ID(str(found[0])), version=found[1])

    @property
    def pair(self) -> tuple[int, str]:
        return (parse_id(self.project_id), self.version)

    @strawberry.field
    async def project(
        self, info: ContextInfo
    ) -> Annotated[Project, strawberry.lazy("gql.v1.project_types")] | None:
        # Imported here: `Project` refers to `Release` (its `release` field) at import time.
        from gql.v1.project_types import Project

        found = await info.context.loaders.project_by_id.load(self.pair[0])
        return Project.from_info(found) if found else None

    @strawberry.field(description="The release overview (get_release_health_data_overview).")
    async def health(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        summary_period: str = "24h",
        health_stats_period: str | None = None,
        stat: HealthStat = HealthStat.SESSIONS,
        now: datetime | None = None,
    ) -> SessionStats:
        return await resolvers.release_health(
            info, self.pair, self.inherited_now, environments, summary_period, health_stats_period, stat, now
        )

    @strawberry.field(
        description="24-hour adoption (get_release_adoption); null when the "
        "release never appeared in session data."
    )
    async def adoption(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> Adoption | None:
        return await resolvers.release_adoption(info, self.pair, self.inherited_now, environments, now)

    @strawberry.field(
        description="Adoption stage in one environment at `now` (release-health.md "
        "6.2); null without a stage (empty environment, invalid version) or "
        "for a project that does not exist."
    )
    async def adoption_stage(
        self, info: ContextInfo, environment: str, now: datetime | None = None
    ) -> ReleaseAdoptionStage | None:
        return await resolvers.adoption_stage(info, self.pair, self.inherited_now, environment, now)

    @strawberry.field(
        description="Earliest and latest hour with session data "
        "(get_release_sessions_time_bounds), up to `now` + 10 s. An empty "
        "version means every release of the project; empty or null "
        "`environments` means no environment filter."
    )
    async def session_time_bounds(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> TimeBounds:
        return await resolvers.session_time_bounds(info, self.pair, self.inherited_now, environments, now)

    @strawberry.field(
        description="Cumulative crash-free percentages from `start` at "
        "start + 1, 2, 7, 14 and 30 days up to `now` (get_crash_free_breakdown)."
    )
    async def crash_free_breakdown(
        self,
        info: ContextInfo,
        start: datetime,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> list[CrashFreeCheckpoint]:
        return await resolvers.crash_free_breakdown(
            info, self.pair, self.inherited_now, start, environments, now
        )

    @strawberry.field(
        description="Series and totals of sessions or users by status "
        "(get_project_release_stats). `interval` is a period such as `1h` or "
        "`1d`; the range starts at the first interval boundary after `start`. "
        "`now` only decides whether minute buckets are still retained."
    )
    async def stats(
        self,
        info: ContextInfo,
        stat: HealthStat,
        interval: str,
        start: datetime,
        end: datetime,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> ReleaseStats:
        return await resolvers.release_stats(
            info, self.pair, self.inherited_now, stat, interval, (start, end), environments, now
        )


@strawberry.input
class ProjectReleaseInput:
    project_id: strawberry.ID
    version: str
