"""GraphQL result types of the release-health backend functions (release-health.md 5.2 to
5.14 and 6.2). Plain shapes: the numbers come from `resolvers/` and are only converted
here. Series are columnar: `intervals[i]` belongs to index `i` of every other list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from gql.core.enums import AdoptionStage, HealthStat
from gql.core.scalars import Count
from resolvers.adoption_stage import AdoptionStage as StageResult
from resolvers.bounds import SessionTimeBounds
from resolvers.crash_free import CrashFreeCheckpoint as CheckpointResult
from resolvers.crash_free import CrashFreeRates as RatesResult
from resolvers.release_stats import ReleaseStats as StatsResult
from resolvers.release_stats import StatCounts


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@strawberry.type(
    description="A release's adoption stage in one environment at `now`, "
    "derived from stored history (release-health.md 6.2)."
)
class ReleaseAdoptionStage:
    stage: AdoptionStage = strawberry.field(description="The stage.")
    adopted_at: datetime | None = strawberry.field(
        description="First evaluation instant at which the release was adopted (kept across "
        "re-adoption); null when it never was."
    )
    unadopted_at: datetime | None = strawberry.field(
        description="Only when replaced: the first evaluation instant after its most recent adopted instant."
    )

    @classmethod
    def from_result(cls, s: StageResult) -> ReleaseAdoptionStage:
        return cls(
            stage=AdoptionStage(s.stage),
            adopted_at=_dt(s.adopted_at),
            unadopted_at=_dt(s.unadopted_at),
        )


@strawberry.type(
    description="Earliest and latest hourly bucket start with session data "
    "(get_release_sessions_time_bounds); both null without data."
)
class TimeBounds:
    sessions_lower_bound: datetime | None
    sessions_upper_bound: datetime | None

    @classmethod
    def from_result(cls, b: SessionTimeBounds) -> TimeBounds:
        return cls(sessions_lower_bound=_dt(b.lower), sessions_upper_bound=_dt(b.upper))


@strawberry.type(
    description="One cumulative entry of the crash-free breakdown, over "
    "`[start, date)` widened to whole hours."
)
class CrashFreeCheckpoint:
    date: datetime = strawberry.field(description="The end of the cumulative window.")
    total_sessions: Count = strawberry.field(description="Sessions started since `start`.")
    total_users: Count = strawberry.field(description="Distinct users since `start`.")
    crash_free_sessions: float | None = strawberry.field(
        description="Percent 0..100, `(1 − crashed / total) * 100`; null when totalSessions is 0."
    )
    crash_free_users: float | None = strawberry.field(
        description="Percent 0..100; null when totalUsers is 0."
    )

    @classmethod
    def from_result(cls, c: CheckpointResult) -> CrashFreeCheckpoint:
        return cls(
            date=c.date,
            total_sessions=Count(c.total_sessions),
            total_users=Count(c.total_users),
            crash_free_sessions=c.crash_free_sessions,
            crash_free_users=c.crash_free_users,
        )


@strawberry.type(description="Sessions or users and their status groups.")
class StatusCounts:
    total: Count = strawberry.field(description="Sessions started, or distinct users.")
    healthy: Count = strawberry.field(description="Ended without an error.")
    errored: Count = strawberry.field(
        description="Had a handled error, and ended neither crashed nor abnormal."
    )
    crashed: Count = strawberry.field(description="Ended crashed.")
    abnormal: Count = strawberry.field(description="Ended abnormally (for example killed by the OS).")
    unhandled: Count = strawberry.field(description="Ended with an unhandled error that was not a crash.")

    @classmethod
    def from_result(cls, c: StatCounts) -> StatusCounts:
        return cls(
            total=Count(c.total),
            healthy=Count(c.healthy),
            errored=Count(c.errored),
            crashed=Count(c.crashed),
            abnormal=Count(c.abnormal),
            unhandled=Count(c.unhandled),
        )


@strawberry.type(
    description="A release's stats (get_project_release_stats): a columnar "
    "series of sessions or users by status, with duration percentiles, and totals "
    "over the whole range (distinct counts are unions, not sums)."
)
class ReleaseStats:
    stat: HealthStat
    intervals: list[datetime] = strawberry.field(description="Bucket starts.")
    total: list[Count] = strawberry.field(description="Sessions started, or distinct users.")
    healthy: list[Count]
    errored: list[Count]
    crashed: list[Count]
    abnormal: list[Count]
    unhandled: list[Count]
    duration_p50: list[float | None] = strawberry.field(description="Seconds; null without data.")
    duration_p90: list[float | None] = strawberry.field(description="Seconds; null without data.")
    totals: StatusCounts

    @classmethod
    def from_result(cls, r: StatsResult) -> ReleaseStats:
        columns = series_columns(r)
        return cls(
            stat=HealthStat(r.stat),
            duration_p50=columns.pop("p50"),
            duration_p90=columns.pop("p90"),
            totals=StatusCounts.from_result(r.totals),
            **columns,
        )


def series_columns(r: StatsResult) -> dict[str, Any]:
    """A release-stats series as columns (v1's `ReleaseStats` and v2's `HealthSeries`):
    `intervals`, the six status counts, and the duration percentiles as `p50` / `p90`."""
    counts = [e.counts for e in r.series]
    return {
        "intervals": [datetime.fromtimestamp(e.timestamp, UTC) for e in r.series],
        **{
            name: [Count(getattr(c, name)) for c in counts]
            for name in ("total", "healthy", "errored", "crashed", "abnormal", "unhandled")
        },
        "p50": [e.duration_p50 for e in r.series],
        "p90": [e.duration_p90 for e in r.series],
    }


@strawberry.input(description="A time range `[start, end]`.")
class TimeRangeInput:
    start: datetime
    end: datetime


@strawberry.type(
    description="Crash-free session percentages of a project in two windows "
    "(get_current_and_previous_crash_free_rates)."
)
class CrashFreeRates:
    current: float | None = strawberry.field(
        description="Percent 0..100; null without started sessions in the window."
    )
    previous: float | None

    @classmethod
    def from_result(cls, r: RatesResult) -> CrashFreeRates:
        return cls(current=r.current, previous=r.previous)
