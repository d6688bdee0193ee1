# mypy: disable-error-code="untyped-decorator"
# (strawberry.field with arguments is an untyped decorator to mypy 1.x; the resolvers
# below are fully annotated and the schema is checked by its own tests.)
"""GraphQL object types. Fields stay thin: they parse arguments and ask a loader or a
resolver function; the numbers are computed in `resolvers/`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from gql.context import Context
from gql.enums import HealthStat, ReleaseSort
from gql.errors import BadUserInput, user_errors
from gql.loaders import (
    AdoptionKey,
    AdoptionStageKey,
    BreakdownKey,
    CrashFreeRatesKey,
    HealthKey,
    OutcomesKey,
    ProjectReleasesKey,
    ReleasesCountKey,
    ReleaseStatsKey,
    SessionsCountKey,
    TimeBoundsKey,
)
from gql.results import (
    CrashFreeCheckpoint,
    CrashFreeRates,
    Environment,
    ReleaseAdoptionStage,
    ReleaseStats,
    TimeBounds,
    TimeRangeInput,
)
from gql.scalars import Count
from resolvers import health
from resolvers.errors import InvalidQuery
from resolvers.ids import MAX_ID, parse_record_id
from resolvers.rollup import checked_rollup, parse_rollup
from storage.accounts import ProjectInfo

ContextInfo = Info[Context, None]


def parse_id(value: strawberry.ID | str, what: str = "project") -> int:
    text = str(value)
    parsed = parse_record_id(text)
    if parsed is None:
        raise BadUserInput(f"Invalid {what} id: {text[:40]!r} (ids are 1 to {MAX_ID})")
    return parsed


def _key(representation: dict[str, Any], name: str, type_name: str) -> str:
    """One key field of an entity representation, as a string (ids may arrive as numbers)."""
    value = representation.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadUserInput(f"A {type_name} representation needs `{name}` (a string)")
    return str(value)


def reference_time(info: ContextInfo, now: datetime | None, inherited: float | None = None) -> float:
    """The request's one clock, unless the field passes its own `now` or its parent was
    asked with one (a release listed by `releases(now: …)` answers at that `now`)."""
    if now is not None:
        return now.timestamp()
    return inherited if inherited is not None else info.context.now


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _count(value: int | None) -> Count | None:
    return None if value is None else Count(value)


def env_tuple(environments: list[str] | None) -> tuple[str, ...] | None:
    return None if environments is None else tuple(environments)


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
        # The same loader as `Release.adoption`: asked for both, it is computed once.
        with user_errors():
            found = await info.context.loaders.release_adoption.load(self.adoption_key)
        return Adoption.from_result(found) if found else None

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


@strawberry.federation.type(keys=["projectId version"], description="A release of a project.")
class Release:
    project_id: strawberry.ID
    version: str
    #: The `now` of the field that produced this release, inherited by its fields.
    inherited_now: strawberry.Private[float | None] = None

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Release | None:
        """A gateway's `_entities` representation, keyed by GraphQL names (`projectId`).
        Another organization's release, like one never seen in session data, is null."""
        project_id = parse_id(_key(representation, "projectId", "Release"))
        version = _key(representation, "version", "Release")
        if await info.context.loaders.project_by_id.load(project_id) is None:
            return None
        if not await info.context.loaders.release_seen.load((project_id, version)):
            return None
        return cls(project_id=strawberry.ID(str(project_id)), version=version)

    @property
    def pair(self) -> tuple[int, str]:
        return (parse_id(self.project_id), self.version)

    @strawberry.field
    async def project(self, info: ContextInfo) -> Project | None:
        found = await info.context.loaders.project_by_id.load(self.pair[0])
        return Project.from_info(found) if found else None

    @strawberry.field(description="The release overview (get_release_health_data_overview).")
    async def health(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        summary_period: str = "24h",
        health_stats_period: str | None = None,
        stat: HealthStat = HealthStat.SESSIONS,
        now: datetime | None = None,
    ) -> SessionStats:
        key = HealthKey(
            pair=self.pair,
            environments=env_tuple(environments),
            summary_period=summary_period,
            health_stats_period=health_stats_period,
            stat=stat.value,
            now=reference_time(info, now, self.inherited_now),
        )
        if await info.context.loaders.project_by_id.load(key.pair[0]) is None:
            raise BadUserInput(f"Project {key.pair[0]} does not exist")
        try:
            overview = await info.context.loaders.release_health.load(key)
        except InvalidQuery as exc:
            raise BadUserInput(exc.message) from None
        assert overview is not None
        return SessionStats.from_result(overview, AdoptionKey(key.pair, key.environments, key.now))

    @strawberry.field(
        description="24-hour adoption (get_release_adoption); null when the "
        "release never appeared in session data."
    )
    async def adoption(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> Adoption | None:
        if await info.context.loaders.project_by_id.load(self.pair[0]) is None:
            return None
        key = AdoptionKey(self.pair, env_tuple(environments), reference_time(info, now, self.inherited_now))
        with user_errors():
            found = await info.context.loaders.release_adoption.load(key)
        return Adoption.from_result(found) if found else None

    async def _require_project(self, info: ContextInfo) -> tuple[int, str]:
        """The pair, after checking the project is the caller's; another organization's
        project is reported exactly like one that does not exist."""
        pair = self.pair
        if await info.context.loaders.project_by_id.load(pair[0]) is None:
            raise BadUserInput(f"Project {pair[0]} does not exist")
        return pair

    @strawberry.field(
        description="Adoption stage in one environment at `now` (release-health.md "
        "6.2); null without a stage (empty environment, invalid version) or "
        "for a project that does not exist."
    )
    async def adoption_stage(
        self, info: ContextInfo, environment: str, now: datetime | None = None
    ) -> ReleaseAdoptionStage | None:
        if await info.context.loaders.project_by_id.load(self.pair[0]) is None:
            return None
        key = AdoptionStageKey(self.pair, environment, reference_time(info, now, self.inherited_now))
        with user_errors():
            found = await info.context.loaders.adoption_stage.load(key)
        return ReleaseAdoptionStage.from_result(found) if found else None

    @strawberry.field(
        description="Earliest and latest hour with session data "
        "(get_release_sessions_time_bounds), up to `now` + 10 s. An empty "
        "version means every release of the project; empty or null "
        "`environments` means no environment filter."
    )
    async def session_time_bounds(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> TimeBounds:
        pair = await self._require_project(info)
        key = TimeBoundsKey(pair, env_tuple(environments), reference_time(info, now, self.inherited_now))
        with user_errors():
            found = await info.context.loaders.session_time_bounds.load(key)
        assert found is not None
        return TimeBounds.from_result(found)

    @strawberry.field(
        description="Cumulative crash-free percentages from `start` at "
        "start + 1, 2, 7, 14 and 30 days up to `now` (get_crash_free_breakdown)."
    )
    async def crash_free_breakdown(
        self,
        info: ContextInfo,
        start: datetime,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> list[CrashFreeCheckpoint]:
        pair = await self._require_project(info)
        key = BreakdownKey(
            pair, start.timestamp(), env_tuple(environments), reference_time(info, now, self.inherited_now)
        )
        with user_errors():
            found = await info.context.loaders.crash_free_breakdown.load(key)
        return [CrashFreeCheckpoint.from_result(c) for c in found or []]

    @strawberry.field(
        description="Series and totals of sessions or users by status "
        "(get_project_release_stats). `interval` is a period such as `1h` or "
        "`1d`; the range starts at the first interval boundary after `start`. "
        "`now` only decides whether minute buckets are still retained."
    )
    async def stats(
        self,
        info: ContextInfo,
        stat: HealthStat,
        interval: str,
        start: datetime,
        end: datetime,
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> ReleaseStats:
        pair = await self._require_project(info)
        with user_errors():
            rollup = parse_rollup(interval)
            key = ReleaseStatsKey(
                pair,
                stat.value,
                rollup,
                start.timestamp(),
                end.timestamp(),
                env_tuple(environments),
                reference_time(info, now, self.inherited_now),
            )
            found = await info.context.loaders.release_stats.load(key)
        assert found is not None
        return ReleaseStats.from_result(found)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class ReleaseEdge:
    cursor: str
    node: Release


@strawberry.type(description="A page of releases ordered by stability.")
class ReleaseConnection:
    edges: list[ReleaseEdge]
    nodes: list[Release]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Releases considered by the ordering.")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, value = text.partition(":")
        if prefix != "offset" or not value.isdigit():
            raise ValueError(text)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise BadUserInput("Invalid cursor") from None


async def releases_page(
    info: ContextInfo,
    project_ids: list[int],
    environments: list[str] | None,
    period: str,
    sort: ReleaseSort,
    first: int,
    after: str | None,
    now: datetime | None,
    *,
    per_project: bool = False,
) -> ReleaseConnection:
    if first < 0 or first > 500:
        raise BadUserInput("`first` must be between 0 and 500")
    offset = decode_cursor(after)
    if after is not None:
        offset += 1
    at = reference_time(info, now)
    try:
        if per_project:
            # Below a list (Release.project.releases): one batched ranking per request.
            ordered = await info.context.loaders.project_releases.load(
                ProjectReleasesKey(
                    project_ids[0],
                    sort.value,
                    period,
                    env_tuple(environments),
                    at,
                )
            )
            pairs, total = (ordered or [])[offset : offset + first], len(ordered or [])
        else:
            pairs, total = await health.releases_by_stability(
                info.context.store,
                project_ids,
                now=at,
                scope=sort.value,
                stats_period_name=period,
                environments=environments,
                offset=offset,
                limit=first,
                retention=info.context.options.retention,
            )
    except InvalidQuery as exc:
        raise BadUserInput(exc.message) from None
    edges = [
        ReleaseEdge(
            cursor=encode_cursor(offset + i),
            node=Release(project_id=strawberry.ID(str(p)), version=r, inherited_now=at),
        )
        for i, (p, r) in enumerate(pairs)
    ]
    return ReleaseConnection(
        edges=edges,
        nodes=[e.node for e in edges],
        page_info=PageInfo(
            has_next_page=offset + len(edges) < total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


@strawberry.federation.type(keys=["id"], description="A project of the organization.")
class Project:
    id: strawberry.ID
    slug: str
    org_slug: strawberry.Private[str]

    @classmethod
    def from_info(cls, p: ProjectInfo) -> Project:
        return cls(id=strawberry.ID(str(p.id)), slug=p.slug, org_slug=p.org_slug)

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Project | None:
        """A gateway's `_entities` representation; another organization's project is null."""
        found = await info.context.loaders.project_by_id.load(parse_id(_key(representation, "id", "Project")))
        return cls.from_info(found) if found else None

    @strawberry.field
    def organization(self) -> Organization:
        return Organization(slug=self.org_slug)

    @strawberry.field(description="Releases ordered by stability (get_project_releases_by_stability).")
    async def releases(
        self,
        info: ContextInfo,
        environments: list[str] | None = None,
        period: str = "24h",
        sort: ReleaseSort = ReleaseSort.SESSIONS,
        first: int = 25,
        after: str | None = None,
        now: datetime | None = None,
    ) -> ReleaseConnection:
        return await releases_page(
            info,
            [parse_id(self.id)],
            environments,
            period,
            sort,
            first,
            after,
            now,
            per_project=True,
        )

    @strawberry.field(description="A release of this project by version.")
    def release(self, version: str) -> Release:
        return Release(project_id=self.id, version=version)

    @strawberry.field(description="Ingest outcomes (accepted, dropped by reason, normalized).")
    async def ingest_outcomes(
        self,
        info: ContextInfo,
        start: datetime | None = None,
        end: datetime | None = None,
        hourly: bool = False,
    ) -> list[IngestOutcome]:
        rows = (
            await info.context.loaders.ingest_outcomes.load(
                OutcomesKey(
                    parse_id(self.id),
                    None if start is None else int(start.timestamp()),
                    None if end is None else int(end.timestamp()),
                )
            )
            or []
        )
        if hourly:
            return [
                IngestOutcome(hour=as_datetime(h), item_type=t, kind=k, reason=r, count=Count(n))
                for _, h, t, k, r, n in rows
            ]
        totals: dict[tuple[str, str, str], int] = {}
        for _, _, t, k, r, n in rows:
            totals[(t, k, r)] = totals.get((t, k, r), 0) + n
        return [
            IngestOutcome(hour=None, item_type=t, kind=k, reason=r, count=Count(n))
            for (t, k, r), n in sorted(totals.items())
        ]

    @strawberry.field(
        description="Crash-free session percentages in two windows, each "
        "widened to `rollup` seconds "
        "(get_current_and_previous_crash_free_rates)."
    )
    async def crash_free_rates(
        self,
        info: ContextInfo,
        current: TimeRangeInput,
        previous: TimeRangeInput,
        rollup: int = 3600,
        now: datetime | None = None,
    ) -> CrashFreeRates:
        key = CrashFreeRatesKey(
            parse_id(self.id),
            (current.start.timestamp(), current.end.timestamp()),
            (previous.start.timestamp(), previous.end.timestamp()),
            rollup,
            reference_time(info, now),
        )
        with user_errors():
            found = await info.context.loaders.crash_free_rates.load(key)
        assert found is not None
        return CrashFreeRates.from_result(found)

    @strawberry.field(
        description="Sessions started in `[start, end]` widened to `rollup` "
        "seconds (get_project_sessions_count). The environment is given by name "
        'or by record id (not both); the record or name `""` stands for '
        "sessions without an environment (null or empty); an unknown id "
        "matches nothing."
    )
    async def sessions_count(
        self,
        info: ContextInfo,
        start: datetime,
        end: datetime,
        environment: str | None = None,
        environment_id: strawberry.ID | None = None,
        rollup: int = 3600,
        now: datetime | None = None,
    ) -> Count:
        if environment is not None and environment_id is not None:
            raise BadUserInput("Pass either environment or environmentId, not both")
        if environment_id is not None:
            wanted = parse_id(environment_id, "environment")
            records = await info.context.loaders.environments_by_org.load(info.context.org_id)
            names = [name for name, eid in records.items() if eid == wanted]
            if not names:
                with user_errors():
                    checked_rollup(rollup)
                return Count(0)
            environment = names[0]
        key = SessionsCountKey(
            parse_id(self.id),
            start.timestamp(),
            end.timestamp(),
            environment,
            rollup,
            reference_time(info, now),
        )
        with user_errors():
            found = await info.context.loaders.sessions_count.load(key)
        return Count(found or 0)

    @strawberry.field(
        description="How many releases have a positive `scope` quantity over "
        "the period (get_project_releases_count)."
    )
    async def releases_count(
        self,
        info: ContextInfo,
        scope: ReleaseSort = ReleaseSort.SESSIONS,
        period: str = "24h",
        environments: list[str] | None = None,
        now: datetime | None = None,
    ) -> int:
        key = ReleasesCountKey(
            parse_id(self.id),
            scope.value,
            period,
            env_tuple(environments),
            reference_time(info, now),
        )
        with user_errors():
            found = await info.context.loaders.releases_count.load(key)
        return found or 0


@strawberry.type(
    description="How many session items / aggregate buckets ingest accepted, "
    "dropped (by reason) or normalized."
)
class IngestOutcome:
    hour: datetime | None = strawberry.field(description="Hour bucket; null for totals.")
    item_type: str = strawberry.field(description="`session` or `sessions`.")
    kind: str = strawberry.field(description="`accepted`, `dropped` or `normalized`.")
    reason: str = strawberry.field(description="Drop or normalization reason; empty for accepted.")
    count: Count


@strawberry.type
class Organization:
    slug: str

    @strawberry.field
    async def projects(self, info: ContextInfo) -> list[Project]:
        found = await info.context.loaders.projects_by_org.load(info.context.org_id)
        return [Project.from_info(p) for p in found]

    @strawberry.field(
        description="Environment records (ids for the backend functions that "
        "take environment ids), ordered by name."
    )
    async def environments(self, info: ContextInfo) -> list[Environment]:
        found = await info.context.loaders.environments_by_org.load(info.context.org_id)
        return [Environment(id=strawberry.ID(str(i)), name=n) for n, i in sorted(found.items())]


@strawberry.input
class ProjectReleaseInput:
    project_id: strawberry.ID
    version: str


@strawberry.type
class HealthDataResult:
    project_ids: list[strawberry.ID] = strawberry.field(
        description="Projects with session data in the last 90 days (when projectIds was given)."
    )
    releases: list[Release] = strawberry.field(
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
    release: Release
    oldest: datetime
