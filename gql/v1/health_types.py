# mypy: disable-error-code="untyped-decorator"
# (strawberry.field with arguments is an untyped decorator to mypy 1.x; the resolvers
# below are fully annotated and the schema is checked by its own tests.)
"""The release overview (`SessionStats`), adoption, and the answers of the root health
fields. Plain shapes: the numbers come from `resolvers/` and are only converted here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.context import ContextInfo
from gql.core.errors import user_errors
from gql.core.scalars import Count
from gql.core.scope import as_datetime
from gql.health.keys import AdoptionKey
from resolvers import health

if TYPE_CHECKING:
    from gql.v1.release_types import Release


def _count(value: int | None) -> Count | None:
    return None if value is None else Count(value)


@strawberry.type(description="Values over time, columnar: `values[i]` belongs to `intervals[i]`.")
class TimeSeries:
    intervals: list[datetime]
    values: list[Count | None]


@strawberry.type(description="24-hour adoption of a release within its project.")
class Adoption:
    adoption: float | None = strawberry.field(
        description="Percent (0..100) of the project's users in the last 24 h; null without data."
    )
    sessions_adoption: float | None = strawberry.field(
        description="Percent (0..100) of the project's sessions in the last 24 h."
    )
    users_24h: Count
    sessions_24h: Count
    project_users_24h: Count
    project_sessions_24h: Count

    @classmethod
    def from_result(cls, a: health.ReleaseAdoption) -> Adoption:
        return cls(
            adoption=a.adoption,
            sessions_adoption=a.sessions_adoption,
            users_24h=Count(a.users_24h),
            sessions_24h=Count(a.sessions_24h),
            project_users_24h=Count(a.project_users_24h),
            project_sessions_24h=Count(a.project_sessions_24h),
        )


async def load_adoption(info: ContextInfo, key: AdoptionKey) -> Adoption | None:
    """`Release.adoption` and `SessionStats.adoption` share this loader: asked for both,
    it is computed once."""
    with user_errors():
        found = await info.context.loaders.release_adoption.load(key)
    return Adoption.from_result(found) if found else None


@strawberry.type(description="The release overview: totals over the summary period.")
class SessionStats:
    total_sessions: Count | None = strawberry.field(description="Started sessions; null when 0.")
    total_users: Count | None = strawberry.field(description="Distinct users; null without users.")
    crash_free_sessions: float | None = strawberry.field(description="Percent, 0..100.")
    crash_free_users: float | None = strawberry.field(description="Percent, 0..100.")
    unhandled_session_rate: float | None = strawberry.field(
        description="Percent of sessions that crashed or ended unhandled."
    )
    unhandled_user_rate: float | None
    sessions_crashed: Count
    sessions_errored: Count
    sessions_abnormal: Count
    sessions_unhandled: Count
    duration_p50: float | None = strawberry.field(description="Seconds.")
    duration_p90: float | None = strawberry.field(description="Seconds.")
    has_health_data: bool
    series: TimeSeries | None = strawberry.field(
        description="Health stats (sessions or users per bucket) when healthStatsPeriod is given."
    )
    adoption_key: strawberry.Private[AdoptionKey]

    @strawberry.field(
        description="24-hour adoption for the same environments and `now`; "
        "null when the release never appeared in session data."
    )
    async def adoption(self, info: ContextInfo) -> Adoption | None:
        return await load_adoption(info, self.adoption_key)

    @classmethod
    def from_result(cls, o: health.ReleaseOverview, adoption_key: AdoptionKey) -> SessionStats:
        series = None
        if o.stats is not None:
            series = TimeSeries(
                intervals=[as_datetime(t) for t, _ in o.stats],
                values=[Count(v) for _, v in o.stats],
            )
        return cls(
            total_sessions=_count(o.total_sessions),
            total_users=_count(o.total_users),
            crash_free_sessions=o.crash_free_sessions,
            crash_free_users=o.crash_free_users,
            unhandled_session_rate=o.unhandled_session_rate,
            unhandled_user_rate=o.unhandled_user_rate,
            sessions_crashed=Count(o.sessions_crashed),
            sessions_errored=Count(o.sessions_errored),
            sessions_abnormal=Count(o.sessions_abnormal),
            sessions_unhandled=Count(o.sessions_unhandled),
            duration_p50=o.duration_p50,
            duration_p90=o.duration_p90,
            has_health_data=o.has_health_data,
            series=series,
            adoption_key=adoption_key,
        )


@strawberry.type
class HealthDataResult:
    project_ids: list[strawberry.ID] = strawberry.field(
        description="Projects with session data in the last 90 days (when projectIds was given)."
    )
    releases: list[Annotated[Release, strawberry.lazy("gql.v1.release_types")]] = strawberry.field(
        description="Releases with session data in the last 90 days (when releases was given)."
    )


@strawberry.type(description="Started sessions of a project (get_num_sessions_per_project).")
class ProjectSessionCount:
    project_id: strawberry.ID
    sessions: Count


@strawberry.type(
    description="The earliest hour with session data of a release in the last "
    "90 days (get_oldest_health_data_for_releases)."
)
class OldestHealthData:
    release: Annotated[Release, strawberry.lazy("gql.v1.release_types")]
    oldest: datetime
