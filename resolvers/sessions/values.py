"""Field values from aggregated quantities (`release-health.md` 3.2, 3.3, 3.5, 3.7, 8.3,
8.9, 8.10). Private formulas; the lead may dedupe them with `resolvers`' shared ones."""

from __future__ import annotations

from collections.abc import Callable

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


def errored_all(aggregate: Aggregate) -> int:
    return aggregate.counters.errored_preaggr + aggregate.errored_set


def session_status_count(aggregate: Aggregate, status: str) -> int:
    counters = aggregate.counters
    if status == "healthy":
        return max(0, counters.started - errored_all(aggregate))
    if status == "errored":
        return max(
            0, errored_all(aggregate) - (counters.crashed + counters.abnormal + counters.unhandled)
        )
    if status == "crashed":
        return counters.crashed
    if status == "abnormal":
        return counters.abnormal
    if status == "unhandled":
        return counters.unhandled
    raise ValueError(status)


def user_status_count(aggregate: Aggregate, status: str) -> int:
    users = aggregate.users
    if status == "healthy":
        return max(0, users.all - users.errored)
    if status == "errored":
        return max(0, users.errored - (users.crashed + users.abnormal + users.unhandled))
    if status == "crashed":
        return users.crashed
    if status == "abnormal":
        return users.abnormal
    if status == "unhandled":
        return users.unhandled
    raise ValueError(status)


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def rate(numerator: int, denominator: int) -> float | None:
    """`numerator / denominator`, null on a zero denominator, clamped to [0, 1]."""
    if denominator == 0:
        return None
    return _clamp(numerator / denominator)


def free_rate(numerator: int, denominator: int) -> float | None:
    """`1 − numerator / denominator` (divide first), null on zero, clamped to [0, 1]."""
    if denominator == 0:
        return None
    return _clamp(1 - numerator / denominator)


def rate_value(field: str, aggregate: Aggregate) -> float | None:
    counters = aggregate.counters
    users = aggregate.users
    started = counters.started
    match field:
        case "crash_rate(session)":
            return rate(counters.crashed, started)
        case "crash_free_rate(session)":
            return free_rate(counters.crashed, started)
        case "abnormal_rate(session)":
            return rate(counters.abnormal, started)
        case "unhandled_rate(session)":
            return rate(counters.unhandled, started)
        case "errored_rate(session)" | "unhealthy_rate(session)":
            return rate(errored_all(aggregate), started)
        case "crash_rate(user)":
            return rate(users.crashed, users.all)
        case "crash_free_rate(user)":
            return free_rate(users.crashed, users.all)
        case "abnormal_rate(user)":
            return rate(users.abnormal, users.all)
        case "unhandled_rate(user)":
            return rate(users.unhandled, users.all)
        case "errored_rate(user)":
            return rate(users.errored, users.all)
        case "anr_rate()":
            return rate(users.anr, users.all)
        case "foreground_anr_rate()":
            return rate(users.anr_foreground, users.all)
    raise ValueError(field)


def sessions_value(
    aggregate: Aggregate, status: str | None, status_filter: frozenset[str] | None
) -> int:
    """`sum(session)`: a status group's count, the sum of the filtered statuses, or
    `started`."""
    if status is not None:
        return session_status_count(aggregate, status)
    if status_filter is not None:
        return sum(session_status_count(aggregate, s) for s in STATUSES if s in status_filter)
    return aggregate.counters.started


def users_value(
    aggregate: Aggregate, status: str | None, status_filter: frozenset[str] | None
) -> int:
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
