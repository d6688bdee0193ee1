# mypy: disable-error-code="untyped-decorator"
# (strawberry.field with arguments is an untyped decorator to mypy 1.x; the resolvers
# below are fully annotated and the schema is checked by its own tests.)
"""`Project`, a federation entity, and its ingest outcomes. Its fields are thin: they pass
their arguments to `gql.v1.project_resolvers` or the releases page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import ReleaseSort
from gql.core.ids import parse_id
from gql.core.scalars import Count
from gql.core.scope import as_datetime
from gql.federation.entities import project_reference
from gql.health.results import CrashFreeRates, TimeRangeInput
from gql.v1 import project_resolvers as resolvers
from gql.v1.organization_types import Organization
from gql.v1.release_connection import ReleaseConnection, releases_page
from gql.v1.release_types import Release
from storage.accounts import ProjectInfo


@strawberry.federation.type(keys=["id"], description="A project of the organization.")
class Project:
    id: strawberry.ID
    slug: str
    org_slug: strawberry.Private[str]

    @classmethod
    def from_info(cls, p: ProjectInfo) -> Project:
        return cls(id=strawberry.ID(str(p.id)), slug=p.slug, org_slug=p.org_slug)

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Project | None:
        """A gateway's `_entities` representation; another organization's project is null."""
        found = await project_reference(info, representation)
        return cls.from_info(found) if found else None

    @strawberry.field
    def organization(self) -> Organization:
        return Organization(slug=self.org_slug)

    @strawberry.field(description="Releases ordered by stability (get_project_releases_by_stability).")
    async def releases(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        period: str = "24h",
        sort: ReleaseSort = ReleaseSort.SESSIONS,
        first: int = 25,
        after: str | None = None,
        now: datetime | None = None,
    ) -> ReleaseConnection:
        return await releases_page(
            info, [parse_id(self.id)], environments, period, sort, first, after, now, per_project=True
        )

    @strawberry.field(description="A release of this project by version.")
    def release(self, version: str) -> Release:
        return Release(project_id=self.id, version=version)

    @strawberry.field(description="Ingest outcomes (accepted, dropped by reason, normalized).")
    async def ingest_outcomes(
        self,
        info: ContextInfo,
        start: datetime | None = None,
        end: datetime | None = None,
        hourly: bool = False,
    ) -> list[IngestOutcome]:
        found = await resolvers.ingest_outcomes(info, parse_id(self.id), start, end, hourly)
        return [
            IngestOutcome(
                hour=None if h is None else as_datetime(h), item_type=t, kind=k, reason=r, count=Count(n)
            )
            for h, t, k, r, n in found
        ]

    @strawberry.field(
        description="Crash-free session percentages in two windows, each "
        "widened to `rollup` seconds "
        "(get_current_and_previous_crash_free_rates)."
    )
    async def crash_free_rates(
        self,
        info: ContextInfo,
        current: TimeRangeInput,
        previous: TimeRangeInput,
        rollup: int = 3600,
        now: datetime | None = None,
    ) -> CrashFreeRates:
        return await resolvers.crash_free_rates(info, parse_id(self.id), (current, previous), rollup, now)

    @strawberry.field(
        description="Sessions started in `[start, end]` widened to `rollup` "
        "seconds (get_project_sessions_count). The environment is given by name "
        'or by record id (not both); the record or name `""` stands for '
        "sessions without an environment (null or empty); an unknown id "
        "matches nothing."
    )
    async def sessions_count(
        self,
        info: ContextInfo,
        start: datetime,
        end: datetime,
        environment: str | None = None,
        environment_id: strawberry.ID | None = None,
        rollup: int = 3600,
        now: datetime | None = None,
    ) -> Count:
        return await resolvers.sessions_count(
            info, parse_id(self.id), (start, end), (environment, environment_id), rollup, now
        )

    @strawberry.field(
        description="How many releases have a positive `scope` quantity over "
        "the period (get_project_releases_count)."
    )
    async def releases_count(
        self,
        info: ContextInfo,
        scope: ReleaseSort = ReleaseSort.SESSIONS,
        period: str = "24h",
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> int:
        return await resolvers.releases_count(info, parse_id(self.id), scope, period, environments, now)


@strawberry.type(
    description="How many session items / aggregate buckets ingest accepted, "
    "dropped (by reason) or normalized."
)
class IngestOutcome:
    hour: datetime | None = strawberry.field(description="Hour bucket; null for totals.")
    item_type: str = strawberry.field(description="`session` or `sessions`.")
    kind: str = strawberry.field(description="`accepted`, `dropped` or `normalized`.")
    reason: str = strawberry.field(description="Drop or normalization reason; empty for accepted.")
    count: Count
