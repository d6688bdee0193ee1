"""`Query.sessions`: the sessions query in GraphQL, with typed, columnar groups.

The input is translated into the REST endpoint's parameters and answered by the same
service (`resolvers.sessions.service`), so both APIs give the same numbers for the same
question; only the shape differs (series are columnar lists per field).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from gql.context import Context
from gql.errors import BadUserInput, Forbidden
from gql.scalars import Count, serialize_datetime
from resolvers.sessions.errors import SessionsQueryError, SessionsQueryForbidden
from resolvers.sessions.fields import FIELDS, FieldKind
from resolvers.sessions.service import sessions_query
from resolvers.timetext import parse_instant

Info = strawberry.Info[Context, None]


@strawberry.input(description="The parameters of Sentry's sessions API.")
class SessionsQueryInput:
    fields: list[str] = strawberry.field(description="e.g. `sum(session)`, `crash_free_rate(user)`.")
    group_by: list[str] | None = strawberry.field(
        default=None,
        description=(
            "`project`, `release`, `environment`, `session.status`, and this server's extensions "
            "`release.version` (the release's version without package and build code, so that "
            "`25.11.2+345` and `pkg@25.11.2+346` form one group `25.11.2`; a release that is not "
            "a version is its own group) and the client dimensions (one family per query: sdk, "
            "os or browser; intervals of 1h or more) `sdk.name`, `os.name`, `os.major`, "
            "`browser.name`, `browser.major`."
        ),
    )
    interval: str | None = strawberry.field(default=None, description="Bucket size, default `1h`.")
    stats_period: str | None = None
    stats_period_start: str | None = None
    stats_period_end: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    environments: list[str] | None = None
    projects: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Project ids; null or `-1` means every readable project."
    )
    query: str | None = strawberry.field(
        default=None,
        description='Search filter, e.g. `release:foo@1.0`, `os.name:iOS`, `browser.major:"Chrome 120"`.',
    )
    order_by: str | None = strawberry.field(
        default=None, description="A requested field, `-` for descending."
    )
    per_page: int | None = None
    cursor: str | None = None
    include_totals: bool = True
    include_series: bool = True
    now: datetime | None = None


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


def _iso(value: datetime) -> str:
    return serialize_datetime(value)


def to_params(q: SessionsQueryInput) -> list[tuple[str, str]]:
    """The REST parameters asking the same question."""
    params: list[tuple[str, str]] = [("field", f) for f in q.fields]
    params += [("groupBy", g) for g in q.group_by or []]
    params += [("environment", e) for e in q.environments or []]
    params += [("project", str(p)) for p in q.projects or []]
    scalars: dict[str, str | None] = {
        "interval": q.interval,
        "statsPeriod": q.stats_period,
        "statsPeriodStart": q.stats_period_start,
        "statsPeriodEnd": q.stats_period_end,
        "start": _iso(q.start) if q.start else None,
        "end": _iso(q.end) if q.end else None,
        "query": q.query,
        "orderBy": q.order_by,
        "per_page": None if q.per_page is None else str(q.per_page),
        "cursor": q.cursor,
        "includeTotals": None if q.include_totals else "0",
        "includeSeries": None if q.include_series else "0",
        "now": _iso(q.now) if q.now else None,
    }
    params += [(k, v) for k, v in scalars.items() if v is not None]
    return params


def _datetime(text: str) -> datetime:
    return datetime.fromtimestamp(parse_instant(text), UTC)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _counted(field: str) -> bool:
    return FIELDS.get(field) in _COUNTED


def _count(value: Any) -> Count | None:
    return Count(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _total(field: str, value: Any) -> SessionFieldTotal:
    return SessionFieldTotal(
        field=field, value=_number(value), count=_count(value) if _counted(field) else None
    )


def _series(field: str, values: list[Any]) -> SessionFieldSeries:
    return SessionFieldSeries(
        field=field,
        values=[_number(v) for v in values],
        counts=[_count(v) for v in values] if _counted(field) else None,
    )


def _group(raw: dict[str, Any], fields: list[str]) -> SessionGroup:
    by = raw["by"]
    project = by.get("project")
    totals = raw.get("totals")
    series = raw.get("series")
    return SessionGroup(
        by=SessionGroupBy(
            project=None if project is None else strawberry.ID(str(project)),
            release=by.get("release"),
            environment=by.get("environment"),
            session_status=by.get("session.status"),
            release_version=by.get("release.version"),
            sdk_name=by.get("sdk.name"),
            os_name=by.get("os.name"),
            os_major=by.get("os.major"),
            browser_name=by.get("browser.name"),
            browser_major=by.get("browser.major"),
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
        result = await sessions_query(
            ctx.store,
            org_id=ctx.org_id,
            projects=projects,
            params=to_params(query),
            now=ctx.now,
            options=ctx.options,
        )
    except SessionsQueryForbidden as exc:
        raise Forbidden(exc.message) from None
    except SessionsQueryError as exc:
        raise BadUserInput(exc.message) from None
    body = result.body
    return SessionsResult(
        start=_datetime(body["start"]),
        end=_datetime(body["end"]),
        intervals=[_datetime(t) for t in body["intervals"]],
        query=body["query"],
        groups=[_group(g, query.fields) for g in body["groups"]],
        page=SessionsPage(
            previous_cursor=str(result.previous),
            has_previous=result.previous.has_results,
            next_cursor=str(result.next),
            has_next=result.next.has_results,
        ),
    )
