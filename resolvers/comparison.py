"""Release comparison, the statistics (issue 10 section 1). Pure: counts in, rates,
intervals and verdicts out; no I/O.

Units: inside this module a rate is a *fraction* in 0..1 (`Interval`, `difference`); the
API reports *percentages* 0..100, and `compare` converts at the end (`RateResult`).
`None` always means "not computable": a zero denominator, no target, or no sessions.

Intervals:

* one proportion: the Wilson score interval (Wilson 1927), which stays inside 0..1 and
  keeps its coverage for rates near 0 or 1 (a crash-free rate of 99.9 % is the normal
  case here, where the Wald interval fails);
* the difference of two independent proportions: Newcombe's hybrid score interval
  (Newcombe 1998, Statistics in Medicine 17:873-890, "method 10"), built from the two
  Wilson intervals.

A verdict is "significant" when the difference's interval excludes 0. Each rate is tested
on its own at the confidence level (no correction for testing several rates at once).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import Enum
from statistics import NormalDist

#: The default confidence level of every interval.
DEFAULT_CONFIDENCE = 0.95
#: The default minimum volume per side before a verdict is given.
DEFAULT_MIN_SESSIONS = 100
DEFAULT_MIN_USERS = 20


def z_of(confidence: float) -> float:
    """The two-sided standard normal quantile of a confidence level in (0, 1)
    (0.95 -> 1.959963984540054)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence is a fraction strictly between 0 and 1")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True, slots=True)
class Interval:
    """A closed interval `[low, high]` of fractions (or of differences of fractions)."""

    low: float
    high: float

    def scaled(self, factor: float) -> Interval:
        return Interval(self.low * factor, self.high * factor)


def proportion(successes: int, n: int) -> float | None:
    """`successes / n` as a fraction; None when `n` is 0."""
    return None if n <= 0 else _clamp(successes, n) / n


def _clamp(successes: int, n: int) -> int:
    # Counts come from stored counters that may exceed their denominator (a crash update
    # without its initial update, release-health.md 2.3); a rate is clamped to 0..1 there.
    return min(max(successes, 0), n)


def wilson(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """The Wilson score interval of `successes / n` as fractions in 0..1; None when `n`
    is 0."""
    if n <= 0:
        return None
    x = _clamp(successes, n)
    z = z_of(confidence)
    p = x / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # The bounds are exactly 0 and 1 at x = 0 and x = n; rounding must not leave them.
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == n else min(1.0, centre + half)
    return Interval(low, high)


def difference(
    x1: int, n1: int, x2: int, n2: int, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, Interval] | None:
    """`p1 - p2` and its Newcombe hybrid score interval (method 10), as fractions in
    -1..1; None when either `n` is 0."""
    first, second = wilson(x1, n1, confidence), wilson(x2, n2, confidence)
    p1, p2 = proportion(x1, n1), proportion(x2, n2)
    if first is None or second is None or p1 is None or p2 is None:
        return None
    delta = p1 - p2
    below = math.sqrt((p1 - first.low) ** 2 + (second.high - p2) ** 2)
    above = math.sqrt((first.high - p1) ** 2 + (p2 - second.low) ** 2)
    return delta, Interval(max(-1.0, delta - below), min(1.0, delta + above))


class Verdict(Enum):
    BETTER = "better"
    WORSE = "worse"
    NO_SIGNIFICANT_DIFFERENCE = "no_significant_difference"
    INSUFFICIENT_DATA = "insufficient_data"


@dataclass(frozen=True, slots=True)
class Counts:
    """The counts behind every rate of one side of a comparison (a release, or the
    baseline of the other releases). `project_sessions` is the denominator of adoption:
    every session of the project in the same scope and filter."""

    sessions: int = 0
    crashed: int = 0
    errored: int = 0  # every errored session, crashed, abnormal and unhandled ones included
    abnormal: int = 0
    unhandled: int = 0
    users: int = 0
    crashed_users: int = 0
    project_sessions: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)))


@dataclass(frozen=True, slots=True)
class Metric:
    """A compared rate: its numerator and denominator, and whether higher is better."""

    name: str
    successes: Callable[[Counts], int]
    trials: Callable[[Counts], int]
    higher_is_better: bool


METRICS: tuple[Metric, ...] = (
    Metric(
        "crash_free_sessions",
        lambda c: c.sessions - _clamp(c.crashed, c.sessions),
        lambda c: c.sessions,
        True,
    ),
    Metric("crash_free_users", lambda c: c.users - _clamp(c.crashed_users, c.users), lambda c: c.users, True),
    Metric("errored_sessions", lambda c: c.errored, lambda c: c.sessions, False),
    Metric("abnormal_sessions", lambda c: c.abnormal, lambda c: c.sessions, False),
    Metric("unhandled_sessions", lambda c: c.unhandled, lambda c: c.sessions, False),
    Metric("adoption", lambda c: c.sessions, lambda c: c.project_sessions, True),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
#: Adoption is reported but does not decide the overall verdict: a release still rolling
#: out has a lower share than its predecessor without being any less healthy.
HEALTH_METRICS = frozenset(m.name for m in METRICS if m.name != "adoption")


@dataclass(frozen=True, slots=True)
class Guard:
    """The minimum volume per side before any verdict other than INSUFFICIENT_DATA."""

    min_sessions: int = DEFAULT_MIN_SESSIONS
    min_users: int = DEFAULT_MIN_USERS

    def passes(self, c: Counts) -> bool:
        return c.sessions >= self.min_sessions and c.users >= self.min_users


@dataclass(frozen=True, slots=True)
class RateResult:
    """One compared rate, in percentages 0..100 (`delta` and `delta_interval` in
    percentage points, -100..100). `value`/`interval` are the release's, `baseline`/
    `baseline_interval` the target's; None where a denominator is 0 (or no target)."""

    metric: str
    value: float | None
    baseline: float | None
    delta: float | None
    interval: Interval | None
    baseline_interval: Interval | None
    delta_interval: Interval | None
    verdict: Verdict


def _percent(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100


def _scaled(interval: Interval | None) -> Interval | None:
    return None if interval is None else interval.scaled(100)


def compare_rate(
    metric: Metric, release: Counts, target: Counts | None, enough: bool, confidence: float
) -> RateResult:
    """One rate of `release` against `target`; `enough` is whether both sides passed the
    volume guard."""
    x1, n1 = metric.successes(release), metric.trials(release)
    x2, n2 = (0, 0) if target is None else (metric.successes(target), metric.trials(target))
    diff = difference(x1, n1, x2, n2, confidence)
    verdict = Verdict.INSUFFICIENT_DATA
    if diff is not None and enough:
        low, high = diff[1].low, diff[1].high
        verdict = Verdict.NO_SIGNIFICANT_DIFFERENCE
        if low > 0 or high < 0:
            verdict = Verdict.BETTER if (low > 0) == metric.higher_is_better else Verdict.WORSE
    return RateResult(
        metric=metric.name,
        value=_percent(proportion(x1, n1)),
        baseline=_percent(proportion(x2, n2)),
        delta=None if diff is None else diff[0] * 100,
        interval=_scaled(wilson(x1, n1, confidence)),
        baseline_interval=_scaled(wilson(x2, n2, confidence)),
        delta_interval=None if diff is None else _scaled(diff[1]),
        verdict=verdict,
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    rates: tuple[RateResult, ...]
    verdict: Verdict


def compare(
    release: Counts,
    target: Counts | None,
    guard: Guard = Guard(),
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    metrics: tuple[Metric, ...] = METRICS,
) -> Comparison:
    """Every metric of `release` against `target` (None: there is no target, e.g. no
    previous release). The overall verdict: INSUFFICIENT_DATA when either side is below
    the guard (or there is no target); else WORSE when any health rate is significantly
    worse, BETTER when none is worse and one is better, NO_SIGNIFICANT_DIFFERENCE
    otherwise."""
    enough = target is not None and guard.passes(release) and guard.passes(target)
    rates = tuple(compare_rate(m, release, target, enough, confidence) for m in metrics)
    decided = {r.verdict for r in rates if r.metric in HEALTH_METRICS}
    if not enough:
        verdict = Verdict.INSUFFICIENT_DATA
    elif Verdict.WORSE in decided:
        verdict = Verdict.WORSE
    elif Verdict.BETTER in decided:
        verdict = Verdict.BETTER
    else:
        verdict = Verdict.NO_SIGNIFICANT_DIFFERENCE
    return Comparison(rates, verdict)
