"""Which stored buckets answer a question (release-health.md 4.4).

Every fact is stored at minute, hour and day granularity; a query reads the coarsest one
that tiles its range (and its series interval) exactly, so a 90-day question reads daily
rows instead of hourly ones and the numbers are the same.
"""

from __future__ import annotations

from storage.types import GRANULARITIES, HOUR, MINUTE


def stored_granularity(
    start: int, end: int, interval: int | None = None, *, finest: int = MINUTE
) -> int:
    """The coarsest stored granularity dividing `start`, `end` and `interval`, never finer
    than `finest` (minute buckets exist only for recent data)."""
    for g in sorted(GRANULARITIES, reverse=True):
        if g < finest:
            break
        if start % g == 0 and end % g == 0 and (interval is None or interval % g == 0):
            return g
    return max(finest, min(GRANULARITIES))


def retained_granularity(
    start: int,
    end: int,
    interval: int | None = None,
    *,
    now: float | None = None,
    minute_retention: int | None = None,
) -> int:
    """`stored_granularity` for a range that may reach back past the minute retention:
    minute buckets are read only when the whole range lies within it (section 4.4); older
    ranges read hourly buckets, each attributed to the query bucket containing its start.
    Without `now` or `minute_retention`, minute buckets are assumed to be retained."""
    finest = MINUTE
    if now is not None and minute_retention is not None and start < now - minute_retention:
        finest = HOUR
    return stored_granularity(start, end, interval, finest=finest)
