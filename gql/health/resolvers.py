"""The storage questions behind the root health fields (`gql.v1.health_fields`): each takes
project ids or pairs the caller may read and the field's clock."""

from __future__ import annotations

from datetime import datetime

from gql.core.context import ContextInfo
from resolvers import bounds, health, project_sessions
from storage.types import ProjectRelease


async def projects_with_data(info: ContextInfo, ids: list[int], at: float) -> set[int]:
    ctx = info.context
    return await health.projects_with_health_data(ctx.store, ids, now=at, retention=ctx.options.retention)


async def releases_with_data(
    info: ContextInfo, pairs: list[ProjectRelease], at: float
) -> set[ProjectRelease]:
    ctx = info.context
    return await health.releases_with_health_data(ctx.store, pairs, now=at, retention=ctx.options.retention)


async def releases_with_data_between(
    info: ContextInfo, ids: list[int], releases: list[str], start: datetime, end: datetime
) -> set[str]:
    ctx = info.context
    return await health.releases_have_health_data(
        ctx.store,
        ids,
        releases,
        start=start.timestamp(),
        end=end.timestamp(),
        now=ctx.now,
        retention=ctx.options.retention,
    )


async def oldest_data(info: ContextInfo, pairs: list[ProjectRelease], at: float) -> dict[ProjectRelease, int]:
    ctx = info.context
    return await bounds.oldest_health_data(ctx.store, pairs, now=at, retention=ctx.options.retention)


async def changed_adoptions(info: ContextInfo, ids: list[int], at: float) -> list[ProjectRelease]:
    ctx = info.context
    return await health.changed_release_adoptions(ctx.store, ids, now=at, retention=ctx.options.retention)


async def sessions_per_project(
    info: ContextInfo,
    ids: list[int],
    window: tuple[datetime, datetime],
    environments: tuple[list[str] | None, list[int] | None],
    rollup: int | None,
    at: float,
) -> list[tuple[int, int]]:
    """`environments` is (names, record ids), at most one given."""
    ctx = info.context
    names, environment_ids = environments
    start, end = window[0].timestamp(), window[1].timestamp()
    retention = ctx.options.retention
    if environment_ids is not None:
        return await project_sessions.sessions_per_project(
            ctx.store,
            ctx.org_id,
            ids,
            start=start,
            end=end,
            environment_ids=environment_ids,
            rollup=rollup,
            now=at,
            retention=retention,
        )
    return await project_sessions.sessions_per_project_by_name(
        ctx.store, ids, start=start, end=end, environments=names, rollup=rollup, now=at, retention=retention
    )
