"""The time range of a sessions query (`release-health.md` 8.2): a look-back period, a
window between two look-backs, or two instants; resolved against the request's `now`.

Both front ends (REST parameters, the GraphQL input) choose the form with `select_range`,
which reports every date error of 8.13 step 3.1 in Sentry's order, before the project ids
are read: so `resolve_range` on a selected range cannot fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from resolvers.timetext import parse_period

from . import errors
from .errors import SessionsQueryError

T = TypeVar("T")

#: Default range when no dates are given (upstream `MAX_STATS_PERIOD`).
DEFAULT_STATS_PERIOD = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Period:
    """A look-back in whole seconds; `written` is the caller's spelling, which Sentry's
    error message quotes."""

    seconds: int
    written: str


@dataclass(frozen=True, slots=True)
class StatsPeriod:
    """`statsPeriod`: from `now - period` to `now`."""

    period: Period


@dataclass(frozen=True, slots=True)
class StatsPeriodWindow:
    """`statsPeriodStart` + `statsPeriodEnd`: from `now - start` to `now - end`."""

    start: Period
    end: Period


@dataclass(frozen=True, slots=True)
class DateRange:
    """`start` + `end`: two instants."""

    start: datetime
    end: datetime


TimeRange = StatsPeriod | StatsPeriodWindow | DateRange

DEFAULT_RANGE = StatsPeriod(Period(int(DEFAULT_STATS_PERIOD.total_seconds()), "90d"))


def date_error(message: str) -> SessionsQueryError:
    return SessionsQueryError(errors.DATE_RANGE_PREFIX + message)


def _before(now: datetime, period: Period) -> datetime:
    try:
        return now - timedelta(seconds=period.seconds)
    except OverflowError:
        raise date_error(errors.invalid_stats_period(period.written)) from None


def look_back(written: str, now: datetime) -> Period:
    """A written period; unparseable, or reaching before year 1 from `now`, is an error."""
    seconds = parse_period(written)
    if seconds is None:
        raise date_error(errors.invalid_stats_period(written))
    period = Period(seconds, written)
    _before(now, period)
    return period


def resolve_range(time_range: TimeRange, now: datetime) -> tuple[datetime, datetime]:
    """The requested `[start, end]` before any alignment (upstream
    `get_date_range_from_params`); `start` must be before `end`."""
    if isinstance(time_range, StatsPeriod):
        start, end = _before(now, time_range.period), now
    elif isinstance(time_range, StatsPeriodWindow):
        start, end = _before(now, time_range.start), _before(now, time_range.end)
    else:
        start, end = time_range.start, time_range.end
    if start >= end:
        raise date_error(errors.START_BEFORE_END)
    return start, end


def select_range(
    stats_period: str | None,
    window: tuple[str | None, str | None],
    dates: tuple[T | None, T | None],
    instant: Callable[[T], datetime],
    now: datetime,
) -> TimeRange:
    """The range a request asks for, checked (8.13 step 3.1). Precedence: `stats_period`,
    then the `window` of two periods, then the two `dates` (read with `instant`), else the
    last 90 days. An empty string counts as absent in a pair, as upstream's truthiness
    tests do."""
    period_start, period_end = window
    raw_start, raw_end = dates
    selected: TimeRange = DEFAULT_RANGE
    if stats_period is not None:
        selected = StatsPeriod(look_back(stats_period, now))
    elif period_start or period_end:
        if not (period_start and period_end):
            raise date_error(errors.STATS_PERIOD_START_END_REQUIRED)
        selected = StatsPeriodWindow(look_back(period_start, now), look_back(period_end, now))
    elif raw_start or raw_end:
        if not (raw_start and raw_end):
            raise date_error(errors.START_END_REQUIRED)
        selected = DateRange(instant(raw_start), instant(raw_end))
    resolve_range(selected, now)
    return selected
