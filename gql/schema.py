"""The Strawberry schema (a Federation v2 subgraph) and its execution extensions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.extensions import AddValidationRules, MaskErrors, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig

from gql.errors import BadUserInput, should_mask
from gql.scalars import DateTimeScalar
from gql.types import (
    ContextInfo,
    HealthDataResult,
    Organization,
    Project,
    ProjectReleaseInput,
    Release,
    ReleaseConnection,
    ReleaseSort,
    parse_id,
    reference_time,
    releases_page,
)
from resolvers import health


@strawberry.type
class Query:
    @strawberry.field(description="The caller's organization by slug; null for any other.")
    def organization(self, info: ContextInfo, slug: str) -> Organization | None:
        if slug != info.context.token.org_slug:
            return None
        return Organization(slug=slug)

    @strawberry.field
    async def project(self, info: ContextInfo, id: strawberry.ID) -> Project | None:
        found = await info.context.loaders.project_by_id.load(parse_id(id))
        return Project.from_info(found) if found else None

    @strawberry.field
    async def release(
        self, info: ContextInfo, project_id: strawberry.ID, version: str
    ) -> Release | None:
        found = await info.context.loaders.project_by_id.load(parse_id(project_id))
        if found is None:
            return None
        return Release(project_id=project_id, version=version)

    @strawberry.field(description="Releases of several projects ordered by stability "
                      "(get_project_releases_by_stability), paginated.")
    async def releases(
        self,
        info: ContextInfo,
        project_ids: list[strawberry.ID],
        environments: list[str] | None = None,
        period: str = "24h",
        sort: ReleaseSort = ReleaseSort.SESSIONS,
        first: int = 25,
        after: str | None = None,
        now: datetime | None = None,
    ) -> ReleaseConnection:
        ids = await _readable_projects(info, project_ids)
        return await releases_page(info, ids, environments, period, sort, first, after, now)

    @strawberry.field(description="Which projects / releases have session data in the last "
                      "90 days (check_has_health_data).")
    async def has_health_data(
        self,
        info: ContextInfo,
        project_ids: list[strawberry.ID] | None = None,
        releases: list[ProjectReleaseInput] | None = None,
        now: datetime | None = None,
    ) -> HealthDataResult:
        at = reference_time(info, now)
        store = info.context.store
        found_projects: set[int] = set()
        found_pairs: set[tuple[int, str]] = set()
        if project_ids:
            ids = await _readable_projects(info, project_ids)
            found_projects = await health.projects_with_health_data(store, ids, now=at)
        if releases:
            readable = set(await _readable_projects(info, [r.project_id for r in releases]))
            pairs = [(parse_id(r.project_id), r.version) for r in releases]
            pairs = [p for p in pairs if p[0] in readable]
            found_pairs = await health.releases_with_health_data(store, pairs, now=at)
        return HealthDataResult(
            project_ids=[strawberry.ID(str(p)) for p in sorted(found_projects)],
            releases=[
                Release(project_id=strawberry.ID(str(p)), version=r)
                for p, r in sorted(found_pairs)
            ],
        )


async def _readable_projects(info: ContextInfo, ids: list[strawberry.ID]) -> list[int]:
    """Project ids of the caller's organization; others are silently absent, as if they
    did not exist."""
    parsed = [parse_id(i) for i in ids]
    found = await info.context.loaders.project_by_id.load_many(parsed)
    return [p.id for p in found if p is not None]


def build_schema(*, max_depth: int = 12, max_aliases: int = 30) -> strawberry.Schema:
    # Validation rules are built once: ValidationCache keys on the rule classes, so rules
    # created per request would never hit the cache.
    rules = [depth_validator(max_depth, None, None), alias_validator(max_aliases)]
    return strawberry.federation.Schema(
        query=Query,
        types=[Release, Project],
        federation_version="2.5",
        config=StrawberryConfig(auto_camel_case=True, scalar_map={datetime: DateTimeScalar}),
        extensions=[
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: AddValidationRules(rules),
            lambda: MaskErrors(should_mask_error=should_mask),
        ],
    )


__all__ = ["BadUserInput", "Query", "build_schema"]
