"""`Query.sessions`: the sessions query in GraphQL, with typed, columnar groups.

The input becomes a `SessionsRequest` (`gql.sessions_input`) answered by the service the
REST endpoint uses (`resolvers.sessions.service`), so both APIs give the same numbers for
the same question; only the shape differs (series are columnar lists per field).
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gql.context import Context
from gql.errors import BadUserInput, Forbidden
from gql.scalars import Count
from gql.sessions_input import SessionsQueryInput, sessions_request
from resolvers.sessions.errors import SessionsQueryError, SessionsQueryForbidden
from resolvers.sessions.fields import FIELDS, FieldKind
from resolvers.sessions.result import GroupValue, SessionsGroup
from resolvers.sessions.service import sessions_query
from resolvers.sessions.values import Value

Info = strawberry.Info[Context, None]


@strawberry.type(description="The group's values of the groupBy dimensions (absent ones are null).")
class SessionGroupBy:
    project: strawberry.ID | None
    release: str | None
    environment: str | None
    session_status: str | None
    sdk_name: str | None = strawberry.field(
        description="`sdk.name`: the envelope's SDK, e.g. `sentry.cocoa`."
    )
    os_name: str | None = strawberry.field(description="`os.name`: e.g. `iOS`, `Android`, `Windows`.")
    os_major: str | None = strawberry.field(
        description="`os.major`: the OS with its major version, e.g. `iOS 17`; null when unknown."
    )
    browser_name: str | None = strawberry.field(description="`browser.name`: e.g. `Chrome`, `Mobile Safari`.")
    browser_major: str | None = strawberry.field(
        description="`browser.major`: the browser with its major version, e.g. `Chrome 120`."
    )
    release_version: str | None = strawberry.field(
        default=None,
        description='With `groupBy: ["release.version"]`: the version without package and build code.',
    )


#: Fields whose values are whole numbers (sessions and users), exact as `Count`.
_COUNTED = frozenset({FieldKind.SESSIONS, FieldKind.USERS})

_COUNT_DESCRIPTION = (
    "The exact count for `sum(session)` and `count_unique(user)` (as `value`, which is a "
    "Float and so exact only up to 2^53); null for rates and durations."
)


@strawberry.type(description="One field's total over the whole range.")
class SessionFieldTotal:
    field: str
    value: float | None
    count: Count | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type(description="One field's values per interval, aligned with `SessionsResult.intervals`.")
class SessionFieldSeries:
    field: str
    values: list[float | None]
    counts: list[Count | None] | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type
class SessionGroup:
    by: SessionGroupBy
    totals: list[SessionFieldTotal] | None = strawberry.field(description="Null when includeTotals is false.")
    series: list[SessionFieldSeries] | None = strawberry.field(
        description="Null when includeSeries is false."
    )


@strawberry.type
class SessionsPage:
    previous_cursor: str
    has_previous: bool
    next_cursor: str
    has_next: bool


@strawberry.type(description="The sessions API's answer; the same numbers as the REST endpoint.")
class SessionsResult:
    start: datetime
    end: datetime
    intervals: list[datetime]
    query: str
    groups: list[SessionGroup]
    page: SessionsPage


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _number(value: Value) -> float | None:
    return None if value is None else float(value)


def _counted(field: str) -> bool:
    return FIELDS.get(field) in _COUNTED


def _count(value: Value) -> Count | None:
    return Count(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _total(field: str, value: Value) -> SessionFieldTotal:
    return SessionFieldTotal(
        field=field, value=_number(value), count=_count(value) if _counted(field) else None
    )


def _series(field: str, values: list[Value]) -> SessionFieldSeries:
    return SessionFieldSeries(
        field=field,
        values=[_number(v) for v in values],
        counts=[_count(v) for v in values] if _counted(field) else None,
    )


def _name(value: GroupValue) -> str | None:
    return None if value is None else str(value)


def _group(group: SessionsGroup, fields: list[str]) -> SessionGroup:
    by = group.by
    project = by.get("project")
    totals = group.totals
    series = group.series
    return SessionGroup(
        by=SessionGroupBy(
            project=None if project is None else strawberry.ID(str(project)),
            release=_name(by.get("release")),
            environment=_name(by.get("environment")),
            session_status=_name(by.get("session.status")),
            release_version=_name(by.get("release.version")),
            sdk_name=_name(by.get("sdk.name")),
            os_name=_name(by.get("os.name")),
            os_major=_name(by.get("os.major")),
            browser_name=_name(by.get("browser.name")),
            browser_major=_name(by.get("browser.major")),
        ),
        totals=None if totals is None else [_total(f, totals[f]) for f in fields if f in totals],
        series=None if series is None else [_series(f, series[f]) for f in fields if f in series],
    )


async def resolve_sessions(info: Info, organization: str, query: SessionsQueryInput) -> SessionsResult:
    ctx = info.context
    if organization != ctx.token.org_slug:
        raise BadUserInput("The requested resource does not exist")
    projects = {p.id: p.slug for p in await ctx.accounts.projects_of_org(ctx.org_id)}
    try:
        request = sessions_request(query, datetime.fromtimestamp(ctx.now, UTC))
        result = await sessions_query(
            ctx.store,
            org_id=ctx.org_id,
            projects=projects,
            request=request,
            now=ctx.now,
            options=ctx.options,
        )
    except SessionsQueryForbidden as exc:
        raise Forbidden(exc.message) from None
    except SessionsQueryError as exc:
        raise BadUserInput(exc.message) from None
    return SessionsResult(
        start=_instant(result.start),
        end=_instant(result.end),
        intervals=[_instant(t) for t in result.intervals],
        query=result.query,
        groups=[_group(g, query.fields) for g in result.groups],
        page=SessionsPage(
            previous_cursor=str(result.previous),
            has_previous=result.previous.has_results,
            next_cursor=str(result.next),
            has_next=result.next.has_results,
        ),
    )
