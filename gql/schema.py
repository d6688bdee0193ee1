# mypy: disable-error-code="untyped-decorator"
# (strawberry.field with arguments is an untyped decorator to mypy 1.x; the resolvers
# below are fully annotated and the schema is checked by its own tests.)
"""The Strawberry schema (a Federation v2 subgraph) and its execution extensions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import strawberry
from strawberry.extensions import AddValidationRules, MaskErrors
from strawberry.federation.types import FieldSet
from strawberry.schema.config import StrawberryConfig

from gql.approximation import ApproximateCounts
from gql.budget import CostBudget
from gql.cache import DocumentCache, ParseAndValidate
from gql.cost import CostLimits
from gql.document_limits import VariableLimits, document_rules
from gql.enums import ReleaseSort
from gql.errors import BadUserInput, should_mask, user_errors
from gql.execution import ExecutionContext
from gql.limits import QueryCostLimit
from gql.rate_limit import RateLimit, resolve_rate_limit
from gql.scalars import Count, CountScalar, DateTimeScalar
from gql.sessions import SessionsResult, resolve_sessions
from gql.subgraph import FIELD_SET, SubgraphSchema
from gql.types import (
    ContextInfo,
    HealthDataResult,
    OldestHealthData,
    Organization,
    Project,
    ProjectReleaseInput,
    ProjectSessionCount,
    Release,
    ReleaseConnection,
    as_datetime,
    parse_id,
    reference_time,
    releases_page,
)
from gql.yielding import YieldingLists
from resolvers import bounds, health, project_sessions
from resolvers.rollup import checked_rollup


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
    async def release(self, info: ContextInfo, project_id: strawberry.ID, version: str) -> Release | None:
        found = await info.context.loaders.project_by_id.load(parse_id(project_id))
        if found is None:
            return None
        return Release(project_id=project_id, version=version)

    @strawberry.field(
        description="Releases of several projects ordered by stability "
        "(get_project_releases_by_stability), paginated."
    )
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

    @strawberry.field(
        description="Which projects / releases have session data in the last 90 days (check_has_health_data)."
    )
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
        retention = info.context.options.retention
        with user_errors():
            if project_ids:
                ids = await _readable_projects(info, project_ids)
                found_projects = await health.projects_with_health_data(
                    store, ids, now=at, retention=retention
                )
            if releases:
                pairs = await _readable_pairs(info, releases)
                found_pairs = await health.releases_with_health_data(
                    store, pairs, now=at, retention=retention
                )
        return HealthDataResult(
            project_ids=[strawberry.ID(str(p)) for p in sorted(found_projects)],
            releases=[Release(project_id=strawberry.ID(str(p)), version=r) for p, r in sorted(found_pairs)],
        )

    @strawberry.field(
        description="The releases among `releases` with session data in "
        "`[start, end]` (hourly, widened) in any of the projects "
        "(check_releases_have_health_data)."
    )
    async def releases_have_health_data(
        self,
        info: ContextInfo,
        project_ids: list[strawberry.ID],
        releases: list[str],
        start: datetime,
        end: datetime,
    ) -> list[str]:
        ids = await _readable_projects(info, project_ids)
        ctx = info.context
        with user_errors():
            found = await health.releases_have_health_data(
                ctx.store,
                ids,
                releases,
                start=start.timestamp(),
                end=end.timestamp(),
                now=ctx.now,
                retention=ctx.options.retention,
            )
        return sorted(found)

    @strawberry.field(
        description="Per release, the earliest hour with session data in the "
        "last 90 days (get_oldest_health_data_for_releases). As upstream, the "
        "filter is *project IN … AND release IN …*, so unasked combinations of "
        "the given projects and versions with data are returned too."
    )
    async def oldest_health_data(
        self,
        info: ContextInfo,
        releases: list[ProjectReleaseInput],
        now: datetime | None = None,
    ) -> list[OldestHealthData]:
        pairs = await _readable_pairs(info, releases)
        at = reference_time(info, now)
        with user_errors():
            found = await bounds.oldest_health_data(
                info.context.store, pairs, now=at, retention=info.context.options.retention
            )
        return [
            OldestHealthData(
                release=Release(project_id=strawberry.ID(str(p)), version=r, inherited_now=at),
                oldest=as_datetime(t),
            )
            for (p, r), t in sorted(found.items())
        ]

    @strawberry.field(
        description="Releases with session data in the last 72 hours "
        "(get_changed_project_release_model_adoptions)."
    )
    async def changed_release_adoptions(
        self,
        info: ContextInfo,
        project_ids: list[strawberry.ID],
        now: datetime | None = None,
    ) -> list[Release]:
        ids = await _readable_projects(info, project_ids)
        at = reference_time(info, now)
        with user_errors():
            found = await health.changed_release_adoptions(
                info.context.store, ids, now=at, retention=info.context.options.retention
            )
        return [Release(project_id=strawberry.ID(str(p)), version=r, inherited_now=at) for p, r in found]

    @strawberry.field(
        description="Sessions started per project in `[start, end]` widened to "
        "`rollup` seconds (default one hour); only projects with data "
        "(get_num_sessions_per_project). Environments by name or by record id "
        "(not both); empty names never match."
    )
    async def sessions_per_project(
        self,
        info: ContextInfo,
        project_ids: list[strawberry.ID],
        start: datetime,
        end: datetime,
        environments: list[str] | None = None,
        environment_ids: list[strawberry.ID] | None = None,
        rollup: int | None = None,
        now: datetime | None = None,
    ) -> list[ProjectSessionCount]:
        if environments is not None and environment_ids is not None:
            raise BadUserInput("Pass either environments or environmentIds, not both")
        ctx = info.context
        ids = await _readable_projects(info, project_ids)
        start_ts, end_ts = start.timestamp(), end.timestamp()
        at, retention = reference_time(info, now), ctx.options.retention
        with user_errors():
            if rollup is not None:
                checked_rollup(rollup)
            if environment_ids is not None:
                found = await project_sessions.sessions_per_project(
                    ctx.store,
                    ctx.org_id,
                    ids,
                    start=start_ts,
                    end=end_ts,
                    environment_ids=[parse_id(e, "environment") for e in environment_ids],
                    rollup=rollup,
                    now=at,
                    retention=retention,
                )
            else:
                found = await project_sessions.sessions_per_project_by_name(
                    ctx.store,
                    ids,
                    start=start_ts,
                    end=end_ts,
                    environments=environments,
                    rollup=rollup,
                    now=at,
                    retention=retention,
                )
        return [ProjectSessionCount(project_id=strawberry.ID(str(p)), sessions=Count(n)) for p, n in found]

    sessions: SessionsResult = strawberry.field(
        resolver=resolve_sessions,
        description="Sentry's sessions query (same parameters and numbers as "
        "GET /api/0/organizations/{org}/sessions/), with columnar series.",
    )

    rate_limit: RateLimit | None = strawberry.field(
        resolver=resolve_rate_limit,
        description="The caller's query-cost budget after this operation; null outside /graphql.",
    )


async def _readable_projects(info: ContextInfo, ids: list[strawberry.ID]) -> list[int]:
    """Project ids of the caller's organization; others are silently absent, as if they
    did not exist."""
    parsed = [parse_id(i) for i in ids]
    found = await info.context.loaders.project_by_id.load_many(parsed)
    return [p.id for p in found if p is not None]


async def _readable_pairs(info: ContextInfo, releases: list[ProjectReleaseInput]) -> list[tuple[int, str]]:
    """The pairs whose project is the caller's; others are silently absent."""
    readable = set(await _readable_projects(info, [r.project_id for r in releases]))
    pairs = [(parse_id(r.project_id), r.version) for r in releases]
    return [p for p in pairs if p[0] in readable]


@dataclass(frozen=True, slots=True)
class GraphQLLimits:
    """Every limit of the GraphQL API (from the settings; README "Query cost and limits")."""

    max_depth: int = 12
    max_aliases: int = 30
    cost: CostLimits = field(default_factory=CostLimits)
    budget: int = 1_000_000
    budget_window: int = 60
    max_tokens: int = 10_000
    max_length: int = 1024 * 1024
    cache_bytes: int = 32 * 1024 * 1024


def build_schema(
    limits: GraphQLLimits = GraphQLLimits(),
    *,
    cache: DocumentCache | None = None,
    budget: CostBudget | None = None,
) -> strawberry.Schema:
    # Validation rules are built once: cached documents were validated by exactly these.
    rules = document_rules(limits.max_depth, limits.max_aliases)
    # Shared by every request of this schema (one per server process).
    cache = cache if cache is not None else DocumentCache(limits.cache_bytes)
    budget = budget if budget is not None else CostBudget(limits.budget, limits.budget_window)
    return SubgraphSchema(
        query=Query,
        types=[Release, Project],
        federation_version="2.5",
        execution_context_class=ExecutionContext,
        scalar_overrides={FieldSet: FIELD_SET},
        config=StrawberryConfig(
            auto_camel_case=True, scalar_map={datetime: DateTimeScalar, Count: CountScalar}
        ),
        extensions=[
            lambda: AddValidationRules(rules),
            VariableLimits,
            # Before ParseAndValidate: its on_execute sees a refusal, and refused
            # documents are not cached.
            lambda: QueryCostLimit(limits.cost, budget),
            lambda: ParseAndValidate(cache, max_tokens=limits.max_tokens, max_length=limits.max_length),
            lambda: MaskErrors(should_mask_error=should_mask),
            YieldingLists,
            ApproximateCounts,
        ],
    )


__all__ = ["GraphQLLimits", "Query", "build_schema"]
