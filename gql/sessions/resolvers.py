"""`Query.sessions` answered: the typed input becomes a `SessionsRequest`
(`gql.sessions.inputs`) answered by the service the REST endpoint uses
(`resolvers.sessions.service`), so both APIs give the same numbers for the same question;
here its result is mapped to the columnar GraphQL types."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput, Forbidden
from gql.core.scalars import Count
from gql.sessions.inputs import SessionsQueryInput, sessions_request
from gql.sessions.types import (
    SessionFieldSeries,
    SessionFieldTotal,
    SessionGroup,
    SessionGroupBy,
    SessionsPage,
    SessionsResult,
)
from resolvers.sessions.errors import SessionsQueryError, SessionsQueryForbidden
from resolvers.sessions.fields import FIELDS, FieldKind
from resolvers.sessions.result import GroupValue, SessionsGroup
from resolvers.sessions.service import sessions_query
from resolvers.sessions.values import Value

#: Fields whose values are whole numbers (sessions and users), exact as `Count`.
_COUNTED = frozenset({FieldKind.SESSIONS, FieldKind.USERS})


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


async def answer(info: ContextInfo, query: SessionsQueryInput) -> SessionsResult:
    """The caller's organization's answer to `query`; Sentry's refusals as coded errors."""
    ctx = info.context
    projects = {p.id: p.slug for p in await ctx.loaders.projects_by_org.load(ctx.org_id)}
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
