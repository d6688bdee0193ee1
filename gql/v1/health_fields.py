# mypy: disable-error-code="untyped-decorator"
"""Root fields about which projects and releases have session data, and sessions per
project. Thin: readable ids in, `gql.health.resolvers` for the numbers, types out."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput, user_errors
from gql.core.ids import as_id, parse_id
from gql.core.scalars import Count
from gql.core.scope import as_datetime, reference_time
from gql.health import resolvers
from gql.v1.health_types import HealthDataResult, OldestHealthData, ProjectSessionCount
from gql.v1.project_resolvers import readable_pairs, readable_projects
from gql.v1.release_types import ProjectReleaseInput, Release
from resolvers.rollup import checked_rollup


@strawberry.field(
    description="Which projects / releases have session data in the last 90 days (check_has_health_data)."
)
async def has_health_data(
    info: ContextInfo,
    project_ids: list[strawberry.ID] | None = None,
    releases: list[ProjectReleaseInput] | None = None,
    now: datetime | None = None,
) -> HealthDataResult:
    at = reference_time(info, now)
    found_projects: set[int] = set()
    found_pairs: set[tuple[int, str]] = set()
    with user_errors():
        if project_ids:
            found_projects = await resolvers.projects_with_data(
                info, await readable_projects(info, project_ids), at
            )
        if releases:
            found_pairs = await resolvers.releases_with_data(info, await readable_pairs(info, releases), at)
    return HealthDataResult(
        project_ids=[as_id(p) for p in sorted(found_projects)],
        releases=[Release(project_id=as_id(p), version=r) for p, r in sorted(found_pairs)],
    )


@strawberry.field(
    description="The releases among `releases` with session data in "
    "`[start, end]` (hourly, widened) in any of the projects "
    "(check_releases_have_health_data)."
)
async def releases_have_health_data(
    info: ContextInfo,
    project_ids: list[strawberry.ID],
    releases: list[str],
    start: datetime,
    end: datetime,
) -> list[str]:
    ids = await readable_projects(info, project_ids)
    with user_errors():
        found = await resolvers.releases_with_data_between(info, ids, releases, start, end)
    return sorted(found)


@strawberry.field(
    description="Per release, the earliest hour with session data in the "
    "last 90 days (get_oldest_health_data_for_releases). As upstream, the "
    "filter is *project IN … AND release IN …*, so unasked combinations of "
    "the given projects and versions with data are returned too."
)
async def oldest_health_data(
    info: ContextInfo,
    releases: list[ProjectReleaseInput],
    now: datetime | None = None,
) -> list[OldestHealthData]:
    pairs = await readable_pairs(info, releases)
    at = reference_time(info, now)
    with user_errors():
        found = await resolvers.oldest_data(info, pairs, at)
    return [
        OldestHealthData(
            release=Release(project_id=as_id(p), version=r, inherited_now=at), oldest=as_datetime(t)
        )
        for (p, r), t in sorted(found.items())
    ]


@strawberry.field(
    description="Releases with session data in the last 72 hours "
    "(get_changed_project_release_model_adoptions)."
)
async def changed_release_adoptions(
    info: ContextInfo,
    project_ids: list[strawberry.ID],
    now: datetime | None = None,
) -> list[Release]:
    ids = await readable_projects(info, project_ids)
    at = reference_time(info, now)
    with user_errors():
        found = await resolvers.changed_adoptions(info, ids, at)
    return [Release(project_id=as_id(p), version=r, inherited_now=at) for p, r in found]


@strawberry.field(
    description="Sessions started per project in `[start, end]` widened to "
    "`rollup` seconds (default one hour); only projects with data "
    "(get_num_sessions_per_project). Environments by name or by record id "
    "(not both); empty names never match."
)
async def sessions_per_project(
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
    ids = await readable_projects(info, project_ids)
    at = reference_time(info, now)
    with user_errors():
        if rollup is not None:
            checked_rollup(rollup)
        records = None if environment_ids is None else [parse_id(e, "environment") for e in environment_ids]
        found = await resolvers.sessions_per_project(
            info, ids, (start, end), (environments, records), rollup, at
        )
    return [ProjectSessionCount(project_id=as_id(p), sessions=Count(n)) for p, n in found]
