"""Loaders of the release-health numbers, batched per option group (`gql.core.batching`):
a page of releases asked the same question costs one resolver call."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from gql.core.batching import grouped_loader
from gql.health.keys import (
    AdoptionKey,
    AdoptionSeriesKey,
    AdoptionStageKey,
    BreakdownKey,
    CrashFreeRatesKey,
    HealthKey,
    ReleaseStatsKey,
    SessionsCountKey,
    TimeBoundsKey,
)
from resolvers import adoption_series, bounds, crash_free, health, project_sessions, release_stats, stages
from resolvers.adoption_stage import AdoptionStage
from resolvers.options import QueryOptions
from resolvers.timetext import to_datetime
from storage.protocol import Store
from storage.types import ProjectRelease


class ReleaseHealthByReleaseLoader(DataLoader[HealthKey, health.ReleaseOverview | None]):
    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: HealthKey
        ) -> dict[ProjectRelease, health.ReleaseOverview]:
            return await health.release_overview(
                store,
                org_id,
                pairs,
                now=k.now,
                environments=k.environments,
                summary_period=k.summary_period,
                health_stats_period=k.health_stats_period,
                stat=k.stat,
                with_adoption=False,  # SessionStats.adoption uses its own loader
                retention=options.retention,
                window=k.window,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class ReleaseAdoptionByReleaseLoader(DataLoader[AdoptionKey, health.ReleaseAdoption | None]):
    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: AdoptionKey
        ) -> dict[ProjectRelease, health.ReleaseAdoption]:
            return await health.release_adoption(
                store,
                org_id,
                pairs,
                now=k.now,
                environments=k.environments,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class AdoptionStageByReleaseLoader(DataLoader[AdoptionStageKey, AdoptionStage | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            targets: list[stages.ReleaseEnvironment], k: AdoptionStageKey
        ) -> dict[stages.ReleaseEnvironment, AdoptionStage]:
            return await stages.release_adoption_stages(store, targets, now=k.now, options=options)

        super().__init__(load_fn=grouped_loader(fetch))


class SessionTimeBoundsByReleaseLoader(DataLoader[TimeBoundsKey, bounds.SessionTimeBounds | None]):
    def __init__(self, store: Store) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: TimeBoundsKey
        ) -> dict[ProjectRelease, bounds.SessionTimeBounds]:
            return await bounds.session_time_bounds(store, pairs, now=k.now, environments=k.environments)

        super().__init__(load_fn=grouped_loader(fetch))


class CrashFreeBreakdownByReleaseLoader(
    DataLoader[BreakdownKey, list[crash_free.CrashFreeCheckpoint] | None]
):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: BreakdownKey
        ) -> dict[ProjectRelease, list[crash_free.CrashFreeCheckpoint]]:
            return await crash_free.crash_free_breakdown(
                store,
                pairs,
                start=to_datetime(k.start),
                now=to_datetime(k.now),
                environments=k.environments,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class ReleaseStatsByReleaseLoader(DataLoader[ReleaseStatsKey, release_stats.ReleaseStats | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: ReleaseStatsKey
        ) -> dict[ProjectRelease, release_stats.ReleaseStats]:
            return await release_stats.release_stats(
                store,
                pairs,
                stat=k.stat,
                rollup=k.rollup,
                start=k.start,
                end=k.end,
                environments=k.environments,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class AdoptionSeriesByReleaseLoader(DataLoader[AdoptionSeriesKey, adoption_series.AdoptionSeries | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: AdoptionSeriesKey
        ) -> dict[ProjectRelease, adoption_series.AdoptionSeries]:
            return await adoption_series.adoption_series(
                store,
                pairs,
                stat=k.stat,
                rollup=k.rollup,
                start=k.start,
                end=k.end,
                environments=k.environments,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class CrashFreeRatesByProjectLoader(DataLoader[CrashFreeRatesKey, crash_free.CrashFreeRates | None]):
    """Keys are projects of the caller's organization (the fields load them first)."""

    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(project_ids: list[int], k: CrashFreeRatesKey) -> dict[int, crash_free.CrashFreeRates]:
            return await crash_free.current_and_previous_crash_free_rates(
                store,
                dict.fromkeys(project_ids, org_id),
                project_ids,
                current_start=k.current[0],
                current_end=k.current[1],
                previous_start=k.previous[0],
                previous_end=k.previous[1],
                rollup=k.rollup,
                org_id=org_id,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class SessionsCountByProjectLoader(DataLoader[SessionsCountKey, int | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(project_ids: list[int], k: SessionsCountKey) -> dict[int, int]:
            return await project_sessions.project_sessions_counts(
                store,
                project_ids,
                rollup=k.rollup,
                start=k.start,
                end=k.end,
                environment=k.environment,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))
