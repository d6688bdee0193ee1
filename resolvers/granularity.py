"""Which stored buckets answer a question (release-health.md 4.4).

Every fact is stored at minute, hour and day granularity; a query reads the coarsest one
that tiles its range (and its series interval) exactly, so a 90-day question reads daily
rows instead of hourly ones and the numbers are the same.
"""

from __future__ import annotations

from storage.types import GRANULARITIES, MINUTE


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
