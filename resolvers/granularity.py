"""Which stored buckets answer a question, and what retention allows (release-health.md 4.4).

Every fact is stored at minute, hour and day granularity (`storage.types.GRANULARITIES`);
the cleanup task (`storage.retention`) deletes the buckets of each granularity whose start
is older than `now - retention` of that granularity (`QueryOptions.retention`, seconds,
0 = forever). `choose_granularity` decides what a question reads:

1. A granularity is *exact* for a question when it divides the aligned start, the end and
   the series interval: every exact granularity gives the same numbers. A range or
   interval that no stored granularity divides (90 s) reads minute buckets, each attributed
   to the query bucket containing its start.
2. A granularity *covers* a range when its retention is 0 or the aligned start is not older
   than `reference - retention`, where the reference is the later of the question's `now`
   and the server clock carried by the retention (`QueryOptions.at(clock).retention`): the
   cleanup deletes by the server clock, so a `now` in the past must not make deleted
   buckets look retained (`retention_reference`).
3. The coarsest exact granularity that covers the range is read (fewest rows).
4. A question exact only at minute (a sub-hour interval or a range not on whole hours)
   that starts before the minute retention reads hourly buckets instead, each attributed to
   the query bucket containing its start, as section 4.4 prescribes: every hour is counted
   once, while a sub-hour series concentrates each hour's data in the sub-bucket holding
   the hour's start.
5. Otherwise the buckets the question needs are gone for part of its range, and
   `RetentionExceeded` (an `InvalidQuery`: HTTP 400 `{"detail": ...}` from REST,
   BAD_USER_INPUT from GraphQL) says so instead of answering low numbers:

   * `Hourly data is kept for 400 days; use an interval of 1d for ranges older than that.`
     (a question that needs hourly buckets and is not on whole days);
   * `Session data is kept for 400 days; choose a range that starts within the last 400
     days.` (older than the daily retention).

Backend functions whose windows are fixed relative to `now` (at most 90 days, widened)
never hit rule 5 at the server clock (the settings keep hourly and daily buckets for at
least 91 days), but do for a `now` far enough in the past: they ask `choose_granularity`
(or `check_retained` when their granularity is fixed) like every other read. History
scans that read "everything stored up to `now`" (session time bounds) are not windows and
are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping

from resolvers.errors import InvalidQuery
from storage.types import DAY, GRANULARITIES, HOUR, MINUTE


class RetentionExceeded(InvalidQuery):
    """The question needs stored buckets that retention has already deleted."""


def stored_granularity(start: int, end: int, interval: int | None = None, *, finest: int = MINUTE) -> int:
    """The coarsest stored granularity dividing `start`, `end` and `interval`, never finer
    than `finest`. No retention check: see `choose_granularity`."""
    for g in sorted(GRANULARITIES, reverse=True):
        if g < finest:
            break
        if start % g == 0 and end % g == 0 and (interval is None or interval % g == 0):
            return g
    return max(finest, min(GRANULARITIES))


def retention_reference(now: float, retention: Mapping[int, int]) -> float:
    """The instant retention is judged at: the later of the question's `now` and the server
    clock the retention carries (`resolvers.options.Retention`), because the cleanup
    deletes by that clock. The one place this rule lives: every bucket read asks `covers`."""
    clock = getattr(retention, "clock", None)
    return now if clock is None else max(now, clock)


def covers(granularity: int, start: int, *, now: float, retention: Mapping[int, int]) -> bool:
    """Whether the buckets of `granularity` starting at or after `start` are all retained."""
    keep = retention.get(granularity, 0)
    return keep <= 0 or start >= retention_reference(now, retention) - keep


def check_retained(granularity: int, start: int, *, now: float, retention: Mapping[int, int] | None) -> None:
    """Raise `RetentionExceeded` when a read of `granularity` buckets from `start` (for
    questions whose granularity is fixed) needs buckets the cleanup has deleted."""
    if retention is None or covers(granularity, start, now=now, retention=retention):
        return
    if granularity == DAY or not covers(DAY, start, now=now, retention=retention):
        raise RetentionExceeded(_beyond_daily(retention))
    raise RetentionExceeded(_beyond_hourly(retention))


def choose_granularity(
    start: int,
    end: int,
    interval: int | None = None,
    *,
    now: float | None,
    retention: Mapping[int, int] | None,
) -> int:
    """The stored granularity answering `[start, end)` (series of `interval`), by the rules
    of the module docstring. Without `now` or `retention` every bucket counts as retained.
    Raises `RetentionExceeded`."""
    if now is None or retention is None:
        return stored_granularity(start, end, interval)
    exact = [
        g
        for g in sorted(GRANULARITIES, reverse=True)
        if start % g == 0 and end % g == 0 and (interval is None or interval % g == 0)
    ] or [MINUTE]
    for g in exact:
        if covers(g, start, now=now, retention=retention):
            return g
    if exact == [MINUTE] and covers(HOUR, start, now=now, retention=retention):
        return HOUR
    if not covers(DAY, start, now=now, retention=retention):
        raise RetentionExceeded(_beyond_daily(retention))
    if not covers(HOUR, start, now=now, retention=retention):
        raise RetentionExceeded(_beyond_hourly(retention))
    raise RetentionExceeded(  # unreachable while hourly buckets cover what minutes do not
        f"Minute-resolution data is kept for {_days(retention[MINUTE])} days; use an "
        "interval of 1h or more for ranges older than that."
    )


def retained_granularity(
    start: int,
    end: int,
    interval: int | None = None,
    *,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> int:
    """`choose_granularity` for callers that may not know the retention: without `now` or
    `retention` every stored bucket is assumed to be retained."""
    if retention is None:
        return stored_granularity(start, end, interval)
    return choose_granularity(start, end, interval, now=now, retention=retention)


def _beyond_daily(retention: Mapping[int, int]) -> str:
    days = _days(retention[DAY])
    return f"Session data is kept for {days} days; choose a range that starts within the last {days} days."


def _beyond_hourly(retention: Mapping[int, int]) -> str:
    return (
        f"Hourly data is kept for {_days(retention[HOUR])} days; use an interval of 1d "
        "for ranges older than that."
    )


def _days(seconds: int) -> str:
    return f"{seconds / 86400:g}"
