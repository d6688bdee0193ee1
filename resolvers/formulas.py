"""Every derived release-health quantity (`release-health.md` section 3).

Order of operations is normative: upstream's tests pin results to the last bit, and
`100 − 1/3*100`, `(1 − 1/3)*100` and `2/3*100` differ there. So each shape below is written
exactly as the spec writes it, and callers pick the shape, not just the inputs.

Counts are clamped at 0, rates to [0, 1] and percentages to [0, 100] (this project's
decision, section 9 item 8): upstream can report a crash rate of 2.0 when crash updates
outnumber initial updates. A zero or absent denominator gives None, never NaN or inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from storage.sketch import quantiles
from storage.types import Aggregate, Counters, Durations, Users

Status = Literal["abnormal", "crashed", "errored", "healthy", "unhandled"]
#: Upstream's `SessionStatus` enum order, which every status enumeration follows.
STATUSES: Final[tuple[Status, ...]] = ("abnormal", "crashed", "errored", "healthy", "unhandled")


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """The five status groups. They need not add up to the total (section 3.1)."""

    abnormal: int
    crashed: int
    errored: int
    healthy: int
    unhandled: int

    def of(self, status: Status) -> int:
        count: int = getattr(self, status)
        return count


# -- counts ------------------------------------------------------------------------


def errored_all(counters: Counters, errored_set: int) -> int:
    """Errored sessions of any kind, crashed, abnormal and unhandled included."""
    return counters.errored_preaggr + errored_set


def session_statuses(counters: Counters, errored_set: int) -> StatusCounts:
    """Session status groups (section 3.2). This project also subtracts `unhandled` from
    `errored`, so that the five groups partition the sessions."""
    errored = errored_all(counters, errored_set)
    fatal = counters.crashed + counters.abnormal + counters.unhandled
    return StatusCounts(
        abnormal=counters.abnormal,
        crashed=counters.crashed,
        errored=max(0, errored - fatal),
        healthy=max(0, counters.started - errored),
        unhandled=counters.unhandled,
    )


def user_statuses(users: Users) -> StatusCounts:
    """User status groups (section 3.3). The fatal users are a plain sum of three distinct
    counts, not a union, exactly as upstream subtracts them."""
    fatal = users.crashed + users.abnormal + users.unhandled
    return StatusCounts(
        abnormal=users.abnormal,
        crashed=users.crashed,
        errored=max(0, users.errored - fatal),
        healthy=max(0, users.all - users.errored),
        unhandled=users.unhandled,
    )


# -- rates (0..1) ------------------------------------------------------------------


def _clamp(value: float, high: float) -> float | None:
    if not math.isfinite(value):
        return None
    return min(high, max(0.0, value))


def ratio(part: int, total: int | None) -> float | None:
    """`part / total`, clamped to [0, 1]."""
    if not total:
        return None
    return _clamp(part / total, 1.0)


def complement_ratio(part: int, total: int | None) -> float | None:
    """`1 − part / total` (divide first, then subtract), clamped to [0, 1]."""
    if not total:
        return None
    return _clamp(1 - part / total, 1.0)


RateFormula = Callable[[Aggregate], float | None]

#: Section 3.5, keyed by the sessions endpoint's field names (section 8.3).
RATES: Final[dict[str, RateFormula]] = {
    "crash_rate(session)": lambda a: ratio(a.counters.crashed, a.counters.started),
    "crash_free_rate(session)": lambda a: complement_ratio(a.counters.crashed, a.counters.started),
    "abnormal_rate(session)": lambda a: ratio(a.counters.abnormal, a.counters.started),
    "unhandled_rate(session)": lambda a: ratio(a.counters.unhandled, a.counters.started),
    "errored_rate(session)": lambda a: ratio(errored_all(a.counters, a.errored_set), a.counters.started),
    "unhealthy_rate(session)": lambda a: ratio(errored_all(a.counters, a.errored_set), a.counters.started),
    "crash_rate(user)": lambda a: ratio(a.users.crashed, a.users.all),
    "crash_free_rate(user)": lambda a: complement_ratio(a.users.crashed, a.users.all),
    "abnormal_rate(user)": lambda a: ratio(a.users.abnormal, a.users.all),
    "unhandled_rate(user)": lambda a: ratio(a.users.unhandled, a.users.all),
    "errored_rate(user)": lambda a: ratio(a.users.errored, a.users.all),
    "anr_rate()": lambda a: ratio(a.users.anr, a.users.all),
    "foreground_anr_rate()": lambda a: ratio(a.users.anr_foreground, a.users.all),
}


# -- percentages (0..100), section 3.6 -----------------------------------------------


def overview_crash_free_percentage(crashed: int, total: int | None) -> float | None:
    """Overview `crash_free_sessions` / `crash_free_users`: `100 − crashed / total * 100`."""
    if not total:
        return None
    return _clamp(100 - crashed / total * 100, 100.0)


def share_percentage(part: int, total: int | None) -> float | None:
    """`part / total * 100`: the overview's `unhandled_*_rate` (part = unhandled + crashed)."""
    if not total:
        return None
    return _clamp(part / total * 100, 100.0)


def adoption_percentage(part: int, total: int | None) -> float | None:
    """`adoption` / `sessions_adoption`: `part / total * 100`, None when either count is 0
    (section 3.8), so a release without sessions has no adoption rather than 0 %."""
    if not part:
        return None
    return share_percentage(part, total)


def crash_free_percentage(crashed: int, total: int | None) -> float | None:
    """Breakdown and current/previous rates: `crash_free_rate * 100`, i.e.
    `(1 − crashed / total) * 100`."""
    rate = complement_ratio(crashed, total)
    return None if rate is None else rate * 100


def alert_crash_free_value(crashed: int, total: int | None) -> float | None:
    """Crash-rate alert value: `round((1 − crashed / total) * 100, 3)`, the rate clamped to
    [0, 1] before multiplying (section 7)."""
    rate = complement_ratio(crashed, total)
    return None if rate is None else round(rate * 100, 3)


# -- durations (seconds), section 3.7 ----------------------------------------------

#: The percentile fields of the sessions endpoint and their quantiles.
DURATION_QUANTILES: Final[dict[str, float]] = {
    "p50": 0.5,
    "p75": 0.75,
    "p90": 0.9,
    "p95": 0.95,
    "p99": 0.99,
}


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The reference percentile: linear interpolation between closest ranks (numpy's
    default), over values sorted ascending. None for no values."""
    n = len(sorted_values)
    if n == 0:
        return None
    h = (n - 1) * q
    lower = math.floor(h)
    upper = min(lower + 1, n - 1)
    return sorted_values[lower] + (h - lower) * (sorted_values[upper] - sorted_values[lower])


def duration_avg(durations: Durations) -> float | None:
    return durations.sum / durations.count if durations.count else None


def duration_max(durations: Durations) -> float | None:
    return durations.max if durations.count else None


def duration_quantile(durations: Durations, q: float) -> float | None:
    """A percentile from the store's sketch, within 0.5 % of the reference and exact when
    every value is equal."""
    return duration_quantiles(durations, (q,))[0]


def duration_quantiles(durations: Durations, qs: Sequence[float]) -> list[float | None]:
    """`duration_quantile` of each of `qs` (one pass over the bins)."""
    if not durations.count:
        return [None] * len(qs)
    if durations.min == durations.max:
        return [durations.min] * len(qs)
    return quantiles(durations.bins, qs, durations.min, durations.max)
