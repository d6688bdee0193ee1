"""Time windows on the unix-epoch grid (`release-health.md` sections 4.2 to 4.5 and 8.4).

Everything here is arithmetic on unix seconds. Aligning on the epoch grid (rather than on
the caller's start) is what makes days begin at 00:00 UTC and keeps every bucket label
stable between requests.
"""

from __future__ import annotations

from typing import Final, NamedTuple

#: Upstream's cap on the buckets of one sessions query (`get_constrained_date_range`).
MAX_BUCKETS: Final = 1000

INTERVAL_NOT_TEN_SECONDS: Final = "The interval has to be a multiple of the minimum interval of ten seconds."
INTERVAL_ABOVE_DAY: Final = "The interval has to be less than one day."
INTERVAL_NOT_DIVIDING_DAY: Final = "The interval should divide one day without a remainder."
TOO_MANY_BUCKETS: Final = (
    "Your interval and date range would create too many results. "
    "Use a larger interval, or a smaller date range."
)
INVALID_STATS_PERIOD: Final = "Invalid stats period"

_DAY: Final = 86400


class InvalidInterval(ValueError):
    """An interval or date range the sessions endpoint refuses; `str()` is the 400 detail."""


class InvalidStatsPeriod(ValueError):
    """A summary or health stats period outside `STATS_PERIODS`."""

    def __init__(self) -> None:
        super().__init__(INVALID_STATS_PERIOD)


class StatsPeriod(NamedTuple):
    bucket_size: int
    buckets: int

    @property
    def seconds(self) -> int:
        return self.bucket_size * self.buckets


STATS_PERIODS: Final[dict[str, StatsPeriod]] = {
    "1h": StatsPeriod(3600, 1),
    "24h": StatsPeriod(3600, 24),
    "1d": StatsPeriod(3600, 24),
    "48h": StatsPeriod(3600, 48),
    "2d": StatsPeriod(3600, 48),
    "7d": StatsPeriod(86400, 7),
    "14d": StatsPeriod(86400, 14),
    "30d": StatsPeriod(86400, 30),
    "90d": StatsPeriod(259200, 30),
}


def parse_stats_period(period: str) -> StatsPeriod:
    """`(bucket_size, buckets)` of an allowed stats period."""
    try:
        return STATS_PERIODS[period]
    except KeyError:
        raise InvalidStatsPeriod() from None


def _floor(value: float, step: int) -> int:
    # Float floor division is exact, whereas `floor(value / step)` can round a value just
    # below a boundary up onto it.
    return int(value // step) * step


def _ceil(value: float, step: int) -> int:
    return -int(-value // step) * step


def to_intervals(start: float, end: float, interval: int) -> tuple[int, int, int]:
    """Aligned start, aligned end and bucket count covering `[start, end)` (section 4.2).

    An `end` already on the grid is not extended. An `end` at or before the aligned start
    gives zero buckets rather than a negative count.
    """
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    aligned_start = _floor(start, interval)
    count = max(0, _ceil(end - aligned_start, interval) // interval)
    return aligned_start, aligned_start + count * interval, count


def widen(start: float, end: float, granularity: int) -> tuple[int, int]:
    """Bucket-start range `[floor(start), ceil(end))` on `granularity` (section 4.3).

    Upstream widens every query this way, so "the last 24 hours" read hourly covers up to
    25 hours of data.
    """
    if granularity <= 0:
        raise ValueError(f"granularity must be positive, got {granularity}")
    return _floor(start, granularity), _ceil(end, granularity)


def validate_interval(interval: int) -> None:
    """The three interval checks of section 8.4, in upstream's order."""
    if interval % 10 != 0 or interval < 10:
        raise InvalidInterval(INTERVAL_NOT_TEN_SECONDS)
    if interval > _DAY:
        raise InvalidInterval(INTERVAL_ABOVE_DAY)
    if _DAY % interval != 0:
        raise InvalidInterval(INTERVAL_NOT_DIVIDING_DAY)


def constrained_range(start: float, end: float, now: float, interval: int) -> tuple[int, int, int]:
    """The sessions endpoint's range after `get_constrained_date_range` (section 8.4).

    Validates the interval, pulls a future `start` back to `now` (the end may stay in the
    future), aligns, and refuses more than `MAX_BUCKETS` buckets.
    """
    validate_interval(interval)
    aligned = to_intervals(min(start, now), end, interval)
    if aligned[2] > MAX_BUCKETS:
        raise InvalidInterval(TOO_MANY_BUCKETS)
    return aligned
