"""Sentry's request parameters of the sessions endpoint parsed into a `SessionsRequest`
(`release-health.md` 8.2, 8.4, 8.13 steps 2 to 3.2). Pure: no store, no organization.

Parameters arrive as a multi-dict (`Sequence[tuple[str, str]]`, as a query string gives
them). A single-valued parameter given several times uses its **last** value, as Django's
`QueryDict.get` does upstream.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from resolvers.timetext import InstantOutOfRange, InvalidTimestamp, parse_instant

from . import errors
from .define import define
from .definition import SessionsQueryContext, SessionsQueryDefinition
from .pagination import parse_cursor, parse_per_page
from .request import SearchFilter, SessionsRequest, interval_of, project_ids
from .scope import check_environments, select_projects
from .scope import check_interval as check_interval
from .time_range import TimeRange, date_error, resolve_range, select_range


class QueryParams:
    """Read-only multi-dict view of `(name, value)` pairs."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.pairs: tuple[tuple[str, str], ...] = tuple(pairs)

    def get(self, name: str) -> str | None:
        """The last value of `name`, or None when absent."""
        found: str | None = None
        for key, value in self.pairs:
            if key == name:
                found = value
        return found

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.pairs)


def parse_sessions_params(pairs: Sequence[tuple[str, str]], clock: datetime) -> SessionsRequest:
    """The request Sentry's parameters ask; `clock` is `now` unless the `now` parameter
    (this project) gives it. Raises `SessionsQueryError` for the errors of 8.13 steps 2 to
    3.2, in that order; `define` checks the rest."""
    params = QueryParams(pairs)
    # 2. pagination
    per_page = parse_per_page(params.get("per_page"))
    cursor = parse_cursor(params.get("cursor"))
    # 3.1 dates, 3.2 project ids as written
    now = parse_now(params, clock)
    time_range = parse_time_range(params, now)
    projects = project_ids(params.getlist("project"))
    return SessionsRequest(
        fields=tuple(params.getlist("field")),
        now=now,
        group_by=tuple(params.getlist("groupBy")),
        time_range=time_range,
        interval=parse_interval(params),
        environments=tuple(params.getlist("environment")),
        projects=projects,
        filter=SearchFilter.parse(params.get("query") or ""),
        order_by=tuple(params.getlist("orderBy")),
        per_page=per_page,
        cursor=cursor,
        include_totals=parse_include(params, "includeTotals"),
        include_series=parse_include(params, "includeSeries"),
    )


def build_definition(
    params: Sequence[tuple[str, str]], context: SessionsQueryContext
) -> SessionsQueryDefinition:
    """Parse and validate Sentry's parameters in the evaluation order of 8.13 (steps 2 to
    12; step 1, authentication and organization, is the caller's), `context.now` being the
    clock. Raises `SessionsQueryError`."""
    return define(parse_sessions_params(params, context.now), context)


def _instant(raw: str) -> datetime | None:
    """`start`, `end` or `now`; None when unparseable. A well-formed instant outside the
    supported dates (`resolvers.timetext.INSTANT_RANGE`) is an error naming that range."""
    try:
        return datetime.fromtimestamp(parse_instant(raw), UTC)
    except InstantOutOfRange as exc:
        raise date_error(str(exc)) from None
    except InvalidTimestamp:
        return None


def _required_instant(raw: str) -> datetime:
    parsed = _instant(raw)
    if parsed is None:
        raise date_error(errors.invalid_iso_date(raw))
    return parsed


def parse_now(params: QueryParams, default: datetime) -> datetime:
    """The request's reference time: the `now` parameter (this project) or `default`."""
    raw = params.get("now")
    return default if raw is None else _required_instant(raw)


def parse_time_range(params: QueryParams, now: datetime) -> TimeRange:
    """The range the parameters ask, errors prefixed `Invalid date range: `.

    `timeframe*` are aliases of `statsPeriod*` (and win over them when both are given);
    precedence: `statsPeriod`, then `statsPeriodStart`+`statsPeriodEnd`, then `start`+`end`,
    else the last 90 days.
    """
    stats_period = params.get("statsPeriod")
    window = (params.get("statsPeriodStart"), params.get("statsPeriodEnd"))
    timeframe = params.get("timeframe")
    timeframe_start = params.get("timeframeStart")
    timeframe_end = params.get("timeframeEnd")
    if timeframe is not None:
        stats_period = timeframe
    elif timeframe_start or timeframe_end:
        if not (timeframe_start and timeframe_end):
            raise date_error(errors.TIMEFRAME_START_END_REQUIRED)
        window = (timeframe_start, timeframe_end)
    dates = (params.get("start"), params.get("end"))
    return select_range(stats_period, window, dates, _required_instant, now)


def resolve_date_range(params: QueryParams, now: datetime) -> tuple[datetime, datetime]:
    """The requested `[start, end]` before any alignment (upstream
    `get_date_range_from_params`)."""
    return resolve_range(parse_time_range(params, now), now)


def parse_interval(params: QueryParams) -> int:
    """The interval in whole seconds; absent or unparseable means one hour (8.4)."""
    return interval_of(params.get("interval"))


def parse_include(params: QueryParams, name: str) -> bool:
    """`includeTotals` / `includeSeries`: only the exact value `0` omits (8.5)."""
    return params.get(name) != "0"


def resolve_projects(params: QueryParams, readable: Mapping[int, str]) -> tuple[int, ...]:
    """The `project` parameters selected among the `readable` projects (8.13 step 3.2)."""
    return select_projects(project_ids(params.getlist("project")), readable)


def resolve_environments(params: QueryParams, known: Collection[str] | None) -> tuple[str, ...]:
    """The distinct `environment` parameters in request order, each known (8.13 step 3.3)."""
    return check_environments(params.getlist("environment"), known)
