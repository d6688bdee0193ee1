# mypy: disable-error-code="untyped-decorator"
"""API v2's shapes of release-health numbers shared by the scoped health objects: adoption,
the columnar series, and the splits by client dimension and release version. Plain
shapes: the numbers come from `resolvers/` and are only converted here."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gql.core.enums import HealthStat
from gql.core.scalars import Count
from gql.health.results import StatusCounts, series_columns
from gql.health.scoped import Summary
from resolvers import adoption_series, health
from resolvers.release_stats import ReleaseStats as StatsResult


@strawberry.type(description="A release's share of its project over the 24 hours before the scope's `at`.")
class Adoption:
    user_rate: float | None = strawberry.field(
        description="Percent 0..100 of the project's users; null when the project had none."
    )
    session_rate: float | None = strawberry.field(
        description="Percent 0..100 of the project's sessions; null when the project had none."
    )
    users: Count = strawberry.field(description="The release's distinct users.")
    sessions: Count = strawberry.field(description="The release's sessions started.")
    project_users: Count = strawberry.field(description="The project's distinct users.")
    project_sessions: Count = strawberry.field(description="The project's sessions started.")

    @classmethod
    def from_result(cls, a: health.ReleaseAdoption) -> Adoption:
        return cls(
            user_rate=a.adoption,
            session_rate=a.sessions_adoption,
            users=Count(a.users_24h),
            sessions=Count(a.sessions_24h),
            project_users=Count(a.project_users_24h),
            project_sessions=Count(a.project_sessions_24h),
        )


@strawberry.type(
    description="Sessions or users by status over time, columnar: entry `i` of every list "
    "belongs to `intervals[i]`. The series starts at the first interval boundary after the "
    "window's start."
)
class HealthSeries:
    stat: HealthStat = strawberry.field(description="What is counted.")
    intervals: list[datetime] = strawberry.field(description="Bucket starts.")
    total: list[Count] = strawberry.field(description="Sessions started, or distinct users, per bucket.")
    healthy: list[Count] = strawberry.field(description="Healthy, per bucket.")
    errored: list[Count] = strawberry.field(description="Errored, per bucket.")
    crashed: list[Count] = strawberry.field(description="Crashed, per bucket.")
    abnormal: list[Count] = strawberry.field(description="Abnormal, per bucket.")
    unhandled: list[Count] = strawberry.field(description="Unhandled, per bucket.")
    duration_p50_seconds: list[float | None] = strawberry.field(
        description="Median session duration in seconds per bucket; null without durations."
    )
    duration_p90_seconds: list[float | None] = strawberry.field(
        description="90th percentile of session duration in seconds per bucket; null without durations."
    )
    totals: StatusCounts = strawberry.field(
        description="Over the whole series (distinct users are a union, not a sum)."
    )

    @classmethod
    def from_result(cls, r: StatsResult) -> HealthSeries:
        columns = series_columns(r)
        return cls(
            stat=HealthStat(r.stat),
            duration_p50_seconds=columns.pop("p50"),
            duration_p90_seconds=columns.pop("p90"),
            totals=StatusCounts.from_result(r.totals),
            **columns,
        )


@strawberry.type(
    description="A release's adoption over time, columnar: entry `i` of `rate` belongs to "
    "`intervals[i]`, the same buckets as the release's `series` of the same interval."
)
class AdoptionSeries:
    stat: HealthStat = strawberry.field(description="What is counted: sessions or distinct users.")
    intervals: list[datetime] = strawberry.field(description="Bucket starts.")
    rate: list[float | None] = strawberry.field(
        description="Per bucket, percent 0..100 of the project's sessions (or distinct users) "
        "that were the release's, in the scope's environments; null where the project had none."
    )

    @classmethod
    def from_result(cls, r: adoption_series.AdoptionSeries) -> AdoptionSeries:
        return cls(
            stat=HealthStat(r.stat),
            intervals=[datetime.fromtimestamp(t, UTC) for t in r.intervals],
            rate=r.rate,
        )


@strawberry.type(description="Totals of one group of sessions in the scope.")
class GroupHealth:
    value: str | None = strawberry.field(
        description="The group's value (an OS, a browser, an SDK, a version); null when unknown."
    )
    sessions: Count = strawberry.field(description="Sessions started.")
    users: Count = strawberry.field(description="Distinct users.")
    crash_free_session_rate: float | None = strawberry.field(
        description="Percent 0..100 of sessions that did not crash; null without sessions."
    )
    crash_free_user_rate: float | None = strawberry.field(
        description="Percent 0..100 of users without a crashed session; null without users."
    )

    @classmethod
    def of(cls, value: object, summary: Summary) -> GroupHealth:
        return cls(
            value=None if value is None else str(value),
            sessions=Count(summary.sessions),
            users=Count(summary.users),
            crash_free_session_rate=summary.crash_free_session_rate,
            crash_free_user_rate=summary.crash_free_user_rate,
        )
