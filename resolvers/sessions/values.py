"""Field values of the sessions query from aggregated quantities (`release-health.md`
3.2, 3.3, 3.5, 3.7, 8.3, 8.9, 8.10); the formulas themselves are `resolvers.formulas`."""

from __future__ import annotations

from collections.abc import Callable

from resolvers import formulas
from storage.types import Aggregate, Durations

from .fields import (
    COUNT_UNIQUE_USER,
    DURATION_QUANTILES,
    FIELDS,
    STATUSES,
    SUM_SESSION,
    FieldKind,
)

#: `quantile(durations, q)` -> seconds (None without data), from the stored sketch.
DurationQuantile = Callable[[Durations, float], float | None]
Value = int | float | None


def session_status_count(aggregate: Aggregate, status: str) -> int:
    return formulas.session_statuses(aggregate.counters, aggregate.errored_set).of(status)  # type: ignore[arg-type]


def user_status_count(aggregate: Aggregate, status: str) -> int:
    return formulas.user_statuses(aggregate.users).of(status)  # type: ignore[arg-type]


def rate_value(field: str, aggregate: Aggregate) -> float | None:
    return formulas.RATES[field](aggregate)


def sessions_value(aggregate: Aggregate, status: str | None, status_filter: frozenset[str] | None) -> int:
    """`sum(session)`: a status group's count, the sum of the filtered statuses, or
    `started`."""
    if status is not None:
        return session_status_count(aggregate, status)
    if status_filter is not None:
        return sum(session_status_count(aggregate, s) for s in STATUSES if s in status_filter)
    return aggregate.counters.started


def users_value(aggregate: Aggregate, status: str | None, status_filter: frozenset[str] | None) -> int:
    """`count_unique(user)`: a status group's count, the one filtered status, or `users`."""
    if status is not None:
        return user_status_count(aggregate, status)
    if status_filter:
        (only,) = (s for s in STATUSES if s in status_filter)
        return user_status_count(aggregate, only)
    return aggregate.users.all


def duration_value(
    field: str, durations: Durations, status: str | None, quantile: DurationQuantile
) -> float | None:
    """Duration aggregates in ms; only the `healthy` status group carries values."""
    if status is not None and status != "healthy":
        return None
    if durations.count == 0:
        return None
    if field == "avg(session.duration)":
        return durations.sum / durations.count * 1000
    if field == "max(session.duration)":
        return durations.max * 1000
    seconds = quantile(durations, DURATION_QUANTILES[field])
    return None if seconds is None else seconds * 1000


def field_value(
    field: str,
    aggregate: Aggregate,
    status: str | None,
    status_filter: frozenset[str] | None,
    quantile: DurationQuantile,
) -> Value:
    kind = FIELDS[field]
    if field == SUM_SESSION:
        return sessions_value(aggregate, status, status_filter)
    if field == COUNT_UNIQUE_USER:
        return users_value(aggregate, status, status_filter)
    if kind is FieldKind.DURATION:
        return duration_value(field, aggregate.durations, status, quantile)
    return rate_value(field, aggregate)


def _started(aggregate: Aggregate) -> int:
    return aggregate.counters.started


def _users(aggregate: Aggregate) -> int:
    return aggregate.users.all


def field_reader(
    field: str,
    status: str | None,
    status_filter: frozenset[str] | None,
    quantile: DurationQuantile,
) -> Callable[[Aggregate], Value]:
    """`field_value` with everything but the aggregate decided once: a series reads one
    field of every bucket of every group (tens of thousands of calls for 90 days of 100
    releases), and most of them ask the plain `started` or `users.all`."""
    if status is None and status_filter is None:
        if field == SUM_SESSION:
            return _started
        if field == COUNT_UNIQUE_USER:
            return _users

    def read(aggregate: Aggregate) -> Value:
        return field_value(field, aggregate, status, status_filter, quantile)

    return read
