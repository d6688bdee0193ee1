"""Request parameters of the sessions endpoint (`release-health.md` 8.2, 8.4, 8.13 step 3).

Parameters arrive as a multi-dict (`Sequence[tuple[str, str]]`, as a query string gives
them). A single-valued parameter given several times uses its **last** value, as Django's
`QueryDict.get` does upstream.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from resolvers.ids import MAX_ID
from resolvers.timetext import InstantOutOfRange, InvalidTimestamp, parse_instant, parse_period
from resolvers.timewindow import InvalidInterval, to_intervals, validate_interval

from . import errors
from .errors import SessionsQueryError, SessionsQueryForbidden, SessionsQueryNotFound

#: Default range when no dates are given (upstream `MAX_STATS_PERIOD`).
DEFAULT_STATS_PERIOD = timedelta(days=90)
#: Default interval, and the value an unparseable `interval` silently becomes.
DEFAULT_INTERVAL = 3600
#: Most buckets a series may have (8.4).
MAX_BUCKETS = 1000
ONE_DAY = 86400
MIN_INTERVAL = 10
#: `project=-1`: every project the caller can read.
ALL_PROJECTS = -1


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


def _date_error(message: str) -> SessionsQueryError:
    return SessionsQueryError(errors.DATE_RANGE_PREFIX + message)


def _instant(raw: str) -> datetime | None:
    """`start`, `end` or `now`; None when unparseable. A well-formed instant outside the
    supported dates (`resolvers.timetext.INSTANT_RANGE`) is an error naming that range."""
    try:
        return datetime.fromtimestamp(parse_instant(raw), UTC)
    except InstantOutOfRange as exc:
        raise _date_error(str(exc)) from None
    except InvalidTimestamp:
        return None


def _required_instant(raw: str) -> datetime:
    parsed = _instant(raw)
    if parsed is None:
        raise _date_error(errors.invalid_iso_date(raw))
    return parsed


def parse_now(params: QueryParams, default: datetime) -> datetime:
    """The request's reference time: the `now` parameter (this project) or `default`."""
    raw = params.get("now")
    return default if raw is None else _required_instant(raw)


def _from_period(value: str, now: datetime) -> datetime:
    period = parse_period(value)
    if period is None:
        raise _date_error(errors.invalid_stats_period(value))
    try:
        return now - timedelta(seconds=period)
    except OverflowError:
        raise _date_error(errors.invalid_stats_period(value)) from None


def resolve_date_range(params: QueryParams, now: datetime) -> tuple[datetime, datetime]:
    """The requested `[start, end]` before any alignment (upstream
    `get_date_range_from_params`), errors prefixed `Invalid date range: `.

    `timeframe*` are aliases of `statsPeriod*` (and win over them when both are given);
    precedence: `statsPeriod`, then `statsPeriodStart`+`statsPeriodEnd`, then `start`+`end`,
    else the last 90 days.
    """
    stats_period = params.get("statsPeriod")
    period_start = params.get("statsPeriodStart")
    period_end = params.get("statsPeriodEnd")
    timeframe = params.get("timeframe")
    timeframe_start = params.get("timeframeStart")
    timeframe_end = params.get("timeframeEnd")
    if timeframe is not None:
        stats_period = timeframe
    elif timeframe_start or timeframe_end:
        if not (timeframe_start and timeframe_end):
            raise _date_error(errors.TIMEFRAME_START_END_REQUIRED)
        period_start, period_end = timeframe_start, timeframe_end

    start = now - DEFAULT_STATS_PERIOD
    end = now
    raw_start = params.get("start")
    raw_end = params.get("end")
    if stats_period is not None:
        start = _from_period(stats_period, now)
    elif period_start or period_end:
        if not (period_start and period_end):
            raise _date_error(errors.STATS_PERIOD_START_END_REQUIRED)
        start = _from_period(period_start, now)
        end = _from_period(period_end, now)
    elif raw_start or raw_end:
        if not (raw_start and raw_end):
            raise _date_error(errors.START_END_REQUIRED)
        start, end = _required_instant(raw_start), _required_instant(raw_end)
    if start >= end:
        raise _date_error(errors.START_BEFORE_END)
    return start, end


def parse_interval(params: QueryParams) -> int:
    """The interval in whole seconds; absent or unparseable means one hour (8.4)."""
    raw = params.get("interval")
    period = None if raw is None else parse_period(raw)
    return DEFAULT_INTERVAL if period is None else period


def check_interval(interval: int) -> None:
    """The three interval checks of 8.4, in order."""
    try:
        validate_interval(interval)
    except InvalidInterval as exc:
        raise SessionsQueryError(str(exc)) from None


def constrain_range(
    start: datetime,
    end: datetime,
    now: datetime,
    interval: int,
    max_buckets: int = MAX_BUCKETS,
) -> tuple[int, int, int]:
    """Clamp a future start to `now`, align with `to_intervals` and enforce the bucket
    limit (8.4). Returns `(start, end, number of buckets)` in unix seconds."""
    start = min(start, now)
    aligned_start, aligned_end, count = to_intervals(start.timestamp(), end.timestamp(), interval)
    if count > max_buckets:
        raise SessionsQueryError(errors.TOO_MANY_BUCKETS)
    return aligned_start, aligned_end, count


def resolve_projects(params: QueryParams, readable: Mapping[int, str]) -> tuple[int, ...]:
    """The project ids of the request (8.13 step 3.2), ascending.

    `readable` maps every project id the caller can read to its slug. Absent or exactly
    `-1` selects all of them; any other id the caller cannot read (including `-1` mixed
    with ids) is a 403.
    """
    try:
        requested = {int(value) for value in params.getlist("project")}
    except ValueError:
        raise SessionsQueryError(errors.INVALID_PROJECT_PARAMETER) from None
    if any(abs(project_id) > MAX_ID for project_id in requested):
        # Upstream answers 403 (not readable); a number no store can hold is a typo.
        raise SessionsQueryError(errors.PROJECT_ID_OUT_OF_RANGE)
    if not requested or requested == {ALL_PROJECTS}:
        selected = set(readable)
    else:
        if any(project_id not in readable for project_id in requested):
            raise SessionsQueryForbidden()
        selected = requested
    if not selected:
        raise SessionsQueryError(errors.NO_PROJECTS)
    return tuple(sorted(selected))


def resolve_environments(params: QueryParams, known: Collection[str] | None) -> tuple[str, ...]:
    """The distinct `environment` parameter values in request order (8.13 step 3.3); an
    environment not in `known` (when given) is a 404."""
    names = tuple(dict.fromkeys(params.getlist("environment")))
    if known is not None and any(name not in known for name in names):
        raise SessionsQueryNotFound()
    return names


def parse_include(params: QueryParams, name: str) -> bool:
    """`includeTotals` / `includeSeries`: only the exact value `0` omits (8.5)."""
    return params.get(name) != "0"


def distinct(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
