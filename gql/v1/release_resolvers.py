"""What `Release`'s health fields do: check the project is the caller's, build the loader
key in the release's scope, load, convert. The fields in `gql.v1.release_types` only pass
their arguments here."""

from __future__ import annotations

from datetime import datetime

from gql.core.context import ContextInfo
from gql.core.enums import HealthStat
from gql.core.errors import BadUserInput, user_errors
from gql.core.scope import env_tuple, reference_time
from gql.health.keys import (
    AdoptionKey,
    AdoptionStageKey,
    BreakdownKey,
    HealthKey,
    ReleaseStatsKey,
    TimeBoundsKey,
)
from gql.health.results import CrashFreeCheckpoint, ReleaseAdoptionStage, ReleaseStats, TimeBounds
from gql.v1.health_types import Adoption, SessionStats, load_adoption
from resolvers.errors import InvalidQuery
from resolvers.rollup import parse_rollup
from storage.types import ProjectRelease

#: The `now` a release inherited from the field that listed it (None: the request's).
Inherited = float | None


async def is_readable(info: ContextInfo, pair: ProjectRelease) -> bool:
    return await info.context.loaders.project_by_id.load(pair[0]) is not None


async def require_project(info: ContextInfo, pair: ProjectRelease) -> ProjectRelease:
    """The pair, after checking the project is the caller's; another organization's
    project is reported exactly like one that does not exist."""
    if not await is_readable(info, pair):
        raise BadUserInput(f"Project {pair[0]} does not exist")
    return pair


async def release_health(
    info: ContextInfo,
    pair: ProjectRelease,
    inherited: Inherited,
    environments: list[str] | None,
    summary_period: str,
    health_stats_period: str | None,
    stat: HealthStat,
    now: datetime | None,
) -> SessionStats:
    key = HealthKey(
        pair=pair,
        environments=env_tuple(environments),
        summary_period=summary_period,
        health_stats_period=health_stats_period,
        stat=stat.value,
        now=reference_time(info, now, inherited),
    )
    await require_project(info, pair)
    try:
        overview = await info.context.loaders.release_health.load(key)
    except InvalidQuery as exc:
        raise BadUserInput(exc.message) from None
    assert overview is not None
    return SessionStats.from_result(overview, AdoptionKey(key.pair, key.environments, key.now))


async def release_adoption(
    info: ContextInfo,
    pair: ProjectRelease,
    inherited: Inherited,
    environments: list[str] | None,
    now: datetime | None,
) -> Adoption | None:
    if not await is_readable(info, pair):
        return None
    return await load_adoption(
        info, AdoptionKey(pair, env_tuple(environments), reference_time(info, now, inherited))
    )


async def adoption_stage(
    info: ContextInfo, pair: ProjectRelease, inherited: Inherited, environment: str, now: datetime | None
) -> ReleaseAdoptionStage | None:
    if not await is_readable(info, pair):
        return None
    key = AdoptionStageKey(pair, environment, reference_time(info, now, inherited))
    with user_errors():
        found = await info.context.loaders.adoption_stage.load(key)
    return ReleaseAdoptionStage.from_result(found) if found else None


async def session_time_bounds(
    info: ContextInfo,
    pair: ProjectRelease,
    inherited: Inherited,
    environments: list[str] | None,
    now: datetime | None,
) -> TimeBounds:
    await require_project(info, pair)
    key = TimeBoundsKey(pair, env_tuple(environments), reference_time(info, now, inherited))
    with user_errors():
        found = await info.context.loaders.session_time_bounds.load(key)
    assert found is not None
    return TimeBounds.from_result(found)


async def crash_free_breakdown(
    info: ContextInfo,
    pair: ProjectRelease,
    inherited: Inherited,
    start: datetime,
    environments: list[str] | None,
    now: datetime | None,
) -> list[CrashFreeCheckpoint]:
    await require_project(info, pair)
    key = BreakdownKey(pair, start.timestamp(), env_tuple(environments), reference_time(info, now, inherited))
    with user_errors():
        found = await info.context.loaders.crash_free_breakdown.load(key)
    return [CrashFreeCheckpoint.from_result(c) for c in found or []]


async def release_stats(
    info: ContextInfo,
    pair: ProjectRelease,
    inherited: Inherited,
    stat: HealthStat,
    interval: str,
    window: tuple[datetime, datetime],
    environments: list[str] | None,
    now: datetime | None,
) -> ReleaseStats:
    await require_project(info, pair)
    with user_errors():
        key = ReleaseStatsKey(
            pair,
            stat.value,
            parse_rollup(interval),
            window[0].timestamp(),
            window[1].timestamp(),
            env_tuple(environments),
            reference_time(info, now, inherited),
        )
        found = await info.context.loaders.release_stats.load(key)
    assert found is not None
    return ReleaseStats.from_result(found)
