# mypy: disable-error-code="untyped-decorator"
"""`ReleaseHealth`: a release's numbers in one scope. Its id is the release's key plus the
scope, so a normalized cache keeps one entry per (release, scope) and never shows one
scope's numbers under another's."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.connection import DEFAULT_PAGE, Connection
from gql.core.context import ContextInfo
from gql.core.enums import ClientDimension, HealthStat, Interval
from gql.core.errors import user_errors
from gql.core.ids import global_id
from gql.core.scalars import Count
from gql.core.scope import ResolvedScope, Scope
from gql.gates.evaluate import evaluate_gate
from gql.gates.types import GateEvaluation
from gql.health.keys import (
    AdoptionKey,
    AdoptionSeriesKey,
    AdoptionStageKey,
    BreakdownKey,
    HealthKey,
    ReleaseStatsKey,
    TimeBoundsKey,
)
from gql.health.results import CrashFreeCheckpoint, ReleaseAdoptionStage, StatusCounts, TimeBounds
from gql.health.types import Adoption, AdoptionSeries, GroupHealth, HealthSeries
from gql.node import Node
from gql.releases.comparison import ReleaseComparison, compare_release
from gql.releases.comparison_inputs import AgainstArg, FilterArg, MinSessionsArg, MinUsersArg, guard_of
from gql.releases.splits import dimension_page
from resolvers import health
from resolvers.release_stats import StatCounts
from storage.types import ProjectRelease

if TYPE_CHECKING:
    from gql.releases.types import Release


@strawberry.type(description="A release's numbers in one scope (window, environments, `at`).")
class ReleaseHealth(Node):
    pair: strawberry.Private[ProjectRelease]
    context: strawberry.Private[Scope]

    @classmethod
    def of(cls, pair: ProjectRelease, scope: Scope) -> ReleaseHealth:
        return cls(id=global_id("ReleaseHealth", *pair, scope.key()), pair=pair, context=scope)

    @strawberry.field(description="The scope these numbers were computed in.")
    def scope(self) -> ResolvedScope:
        return ResolvedScope.of(self.context)

    @strawberry.field(description="The release.")
    def release(self) -> Annotated[Release, strawberry.lazy("gql.releases.types")]:
        from gql.releases.types import Release

        return Release.of(*self.pair)

    async def _overview(self, info: ContextInfo) -> health.ReleaseOverview:
        s = self.context
        key = HealthKey(
            pair=self.pair,
            environments=s.environments,
            summary_period=s.period.value if s.period is not None else "24h",
            health_stats_period=None,
            stat="sessions",
            now=s.at,
            window=None if s.period is not None else (s.start, s.end),
        )
        with user_errors():
            found = await info.context.loaders.release_health.load(key)
        assert found is not None
        return found

    @strawberry.field(description="Sessions started in the window; 0 without data.")
    async def sessions(self, info: ContextInfo) -> Count:
        return Count((await self._overview(info)).total_sessions or 0)

    @strawberry.field(description="Distinct users in the window; 0 without data.")
    async def users(self, info: ContextInfo) -> Count:
        return Count((await self._overview(info)).total_users or 0)

    @strawberry.field(description="Percent 0..100 of sessions that did not crash; null without sessions.")
    async def crash_free_session_rate(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).crash_free_sessions

    @strawberry.field(description="Percent 0..100 of users without a crashed session; null without users.")
    async def crash_free_user_rate(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).crash_free_users

    @strawberry.field(
        description="Percent 0..100 of sessions that crashed or ended unhandled; null without sessions."
    )
    async def unhandled_session_rate(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).unhandled_session_rate

    @strawberry.field(
        description="Percent 0..100 of users with a crashed or unhandled session; null without users."
    )
    async def unhandled_user_rate(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).unhandled_user_rate

    @strawberry.field(description="Sessions started in the window by how they ended.")
    async def sessions_by_status(self, info: ContextInfo) -> StatusCounts:
        o = await self._overview(info)
        total = o.total_sessions or 0
        ended = o.sessions_errored + o.sessions_crashed + o.sessions_abnormal + o.sessions_unhandled
        return StatusCounts.from_result(
            StatCounts(
                total=total,
                healthy=max(0, total - ended),
                errored=o.sessions_errored,
                crashed=o.sessions_crashed,
                abnormal=o.sessions_abnormal,
                unhandled=o.sessions_unhandled,
            )
        )

    @strawberry.field(description="Median session duration in seconds; null without durations.")
    async def duration_p50_seconds(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).duration_p50

    @strawberry.field(description="90th percentile of session duration in seconds; null without durations.")
    async def duration_p90_seconds(self, info: ContextInfo) -> float | None:
        return (await self._overview(info)).duration_p90

    @strawberry.field(
        description="Whether the release has session data in the window or, failing that, "
        "in the 90 days before `at` (a release with data is shown with zeros, not hidden)."
    )
    async def has_session_data(self, info: ContextInfo) -> bool:
        return (await self._overview(info)).has_health_data

    @strawberry.field(
        description="The release's share of its project in the 24 hours before `at`, in the "
        "scope's environments (whatever the window); null when it has no sessions then."
    )
    async def adoption(self, info: ContextInfo) -> Adoption | None:
        s = self.context
        with user_errors():
            found = await info.context.loaders.release_adoption.load(
                AdoptionKey(self.pair, s.environments, s.at)
            )
        return Adoption.from_result(found) if found else None

    @strawberry.field(
        description="The adoption stage in one environment at `at`; null without a stage "
        "(no sessions in the last 24 h, an empty environment name)."
    )
    async def adoption_stage(
        self,
        info: ContextInfo,
        environment: Annotated[str, strawberry.argument(description="The environment's name.")],
    ) -> ReleaseAdoptionStage | None:
        key = AdoptionStageKey(self.pair, environment, self.context.at)
        with user_errors():
            found = await info.context.loaders.adoption_stage.load(key)
        return ReleaseAdoptionStage.from_result(found) if found else None

    async def _bounds(self, info: ContextInfo) -> TimeBounds:
        key = TimeBoundsKey(self.pair, self.context.environments, self.context.at)
        with user_errors():
            found = await info.context.loaders.session_time_bounds.load(key)
        assert found is not None
        return TimeBounds.from_result(found)

    @strawberry.field(
        description="The first hour with session data the store keeps, in the scope's "
        "environments up to `at` (whatever the window); null without data."
    )
    async def first_session_at(self, info: ContextInfo) -> datetime | None:
        return (await self._bounds(info)).sessions_lower_bound

    @strawberry.field(
        description="The last hour with session data, in the scope's environments up to "
        "`at` (whatever the window); null without data."
    )
    async def last_session_at(self, info: ContextInfo) -> datetime | None:
        return (await self._bounds(info)).sessions_upper_bound

    @strawberry.field(description="Sessions or users by status over the window, one value per bucket.")
    async def series(
        self,
        info: ContextInfo,
        interval: Annotated[Interval, strawberry.argument(description="The bucket size.")],
        stat: Annotated[
            HealthStat, strawberry.argument(description="Count sessions or distinct users.")
        ] = HealthStat.SESSIONS,
    ) -> HealthSeries:
        s = self.context
        with user_errors():
            key = ReleaseStatsKey(
                self.pair, stat.value, interval.seconds, s.start, s.end, s.environments, s.at
            )
            found = await info.context.loaders.release_stats.load(key)
        assert found is not None
        return HealthSeries.from_result(found)

    @strawberry.field(
        description="The release's share of its project's sessions (or distinct users) per "
        "bucket over the window, in the scope's environments: its adoption over time."
    )
    async def adoption_series(
        self,
        info: ContextInfo,
        interval: Annotated[Interval, strawberry.argument(description="The bucket size.")],
        stat: Annotated[
            HealthStat, strawberry.argument(description="Share of sessions or of distinct users.")
        ] = HealthStat.SESSIONS,
    ) -> AdoptionSeries:
        s = self.context
        with user_errors():
            key = AdoptionSeriesKey(
                self.pair, stat.value, interval.seconds, s.start, s.end, s.environments, s.at
            )
            found = await info.context.loaders.adoption_series.load(key)
        assert found is not None
        return AdoptionSeries.from_result(found)

    @strawberry.field(
        description="Cumulative crash-free rates from the window's start, 1, 2, 7, 14 and 30 "
        "days on, up to `at`."
    )
    async def crash_free_checkpoints(self, info: ContextInfo) -> list[CrashFreeCheckpoint]:
        s = self.context
        with user_errors():
            found = await info.context.loaders.crash_free_breakdown.load(
                BreakdownKey(self.pair, s.start, s.environments, s.at)
            )
        return [CrashFreeCheckpoint.from_result(c) for c in found or []]

    @strawberry.field(
        description="The verdict of the project's health gate for `environment` (the gate "
        "naming it, else the all-environments gate), computed in that environment over the "
        "gate's window ending at the scope's `at` (the scope's window and environments do not "
        "apply); null when no gate matches."
    )
    async def gate(
        self,
        info: ContextInfo,
        environment: Annotated[
            str | None, strawberry.argument(description="The environment; null for every environment.")
        ] = None,
    ) -> GateEvaluation | None:
        return await evaluate_gate(info, self.pair, self.context.at, environment)

    @strawberry.field(
        description="The release's sessions split by a client dimension (platform, OS, "
        "browser), largest first."
    )
    async def breakdown(
        self,
        info: ContextInfo,
        by: Annotated[ClientDimension, strawberry.argument(description="The dimension to split by.")],
        first: Annotated[int, strawberry.argument(description="Page size, at most 100.")] = DEFAULT_PAGE,
        after: Annotated[str | None, strawberry.argument(description="The cursor to continue after.")] = None,
    ) -> Connection[GroupHealth]:
        return await dimension_page(info, self.context, [self.pair[0]], by.value, first, after, self.pair[1])

    @strawberry.field(
        description="The release compared with another release, its previous release or the "
        "baseline of the project's other releases, in this scope (optionally only sessions "
        "with one client-dimension value): every rate with its Wilson interval, the "
        "difference with Newcombe's interval, and verdicts."
    )
    async def comparison(
        self,
        info: ContextInfo,
        against: AgainstArg,
        filter: FilterArg = None,
        min_sessions: MinSessionsArg = None,
        min_users: MinUsersArg = None,
    ) -> ReleaseComparison:
        guard = guard_of(min_sessions, min_users)
        return await compare_release(info, self.pair, self.context, against, filter, guard)
