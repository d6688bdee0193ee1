"""A health gate's verdict on a release's numbers (issue 10 section 2). Pure: the numbers
come in, the verdict and every check that led to it come out.

Units: every rate and level is a percentage 0..100 (crash-free sessions, crash-free users,
adoption = the release's share of the project's sessions); volumes are counts. A level of
None is not checked; a rate of None means there was nothing to compute it from (no
sessions, no users).

The rules, in the order they decide:

1. Volume: fewer sessions than `min_sessions` or fewer users than `min_users` is
   INSUFFICIENT_DATA whatever the rates say (too few to judge).
2. Each level set is a check. For every metric higher is better: a value below
   `critical` FAILs, below `target` WARNs, anything else PASSes (equal to a level is not
   below it). A checked metric without a value (None) is INSUFFICIENT_DATA.
3. The worst check wins, in the order PASS < INSUFFICIENT_DATA < WARN < FAIL: a failing
   number fails the gate even when another number is missing; the first check in
   `METRICS` order breaks ties. No check at all is PASS.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INSUFFICIENT_DATA = "insufficient_data"


#: Severity for "the worst outcome wins".
SEVERITY = {Outcome.PASS: 0, Outcome.INSUFFICIENT_DATA: 1, Outcome.WARN: 2, Outcome.FAIL: 3}


class Metric(Enum):
    SESSIONS = "sessions"
    USERS = "users"
    CRASH_FREE_SESSIONS = "crash_free_sessions"
    CRASH_FREE_USERS = "crash_free_users"
    ADOPTION = "adoption"


#: How each metric is named in a rule's sentence.
LABELS = {
    Metric.SESSIONS: "sessions",
    Metric.USERS: "users",
    Metric.CRASH_FREE_SESSIONS: "crash-free sessions",
    Metric.CRASH_FREE_USERS: "crash-free users",
    Metric.ADOPTION: "adoption",
}


@dataclass(frozen=True, slots=True)
class Levels:
    """Target and critical levels of one metric, percent 0..100; None: not set."""

    target: float | None = None
    critical: float | None = None

    @property
    def checked(self) -> bool:
        return self.target is not None or self.critical is not None


@dataclass(frozen=True, slots=True)
class GateLevels:
    crash_free_sessions: Levels = Levels()
    crash_free_users: Levels = Levels()
    adoption: Levels = Levels()
    min_sessions: int = 0
    min_users: int = 0


@dataclass(frozen=True, slots=True)
class Numbers:
    """A release's numbers over the gate's window (rates in percent, None without data)."""

    sessions: int
    users: int
    crash_free_sessions: float | None
    crash_free_users: float | None
    adoption: float | None


@dataclass(frozen=True, slots=True)
class Check:
    metric: Metric
    value: float | None
    target: float | None
    critical: float | None
    #: The minimum volume (SESSIONS and USERS checks only).
    minimum: int | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    checks: tuple[Check, ...]
    #: The check that decided; None when every check passed (or none was set).
    deciding: Check | None
    #: The deciding rule in one sentence.
    rule: str


def validate(levels: GateLevels) -> list[tuple[str, str]]:
    """`(field, message)` of every invalid level: outside 0..100, or a critical level above
    the target (higher is better for every metric); negative minimums."""
    problems: list[tuple[str, str]] = []
    for name, lv in (
        ("crashFreeSessions", levels.crash_free_sessions),
        ("crashFreeUsers", levels.crash_free_users),
        ("adoption", levels.adoption),
    ):
        for part, value in (("Target", lv.target), ("Critical", lv.critical)):
            if value is not None and not 0 <= value <= 100:
                problems.append(
                    (f"{name}{part}", f"{name}{part} must be a percentage 0..100, not {value:g}.")
                )
        if lv.target is not None and lv.critical is not None and lv.critical > lv.target:
            problems.append(
                (
                    f"{name}Critical",
                    f"{name}Critical ({lv.critical:g}) must not be above {name}Target ({lv.target:g}): "
                    "a higher value is healthier, so the critical level is the lower one.",
                )
            )
    for name, minimum in (("minSessions", levels.min_sessions), ("minUsers", levels.min_users)):
        if minimum < 0:
            problems.append((name, f"{name} must be 0 or more, not {minimum}."))
    return problems


def _rate_check(metric: Metric, value: float | None, lv: Levels) -> Check:
    if value is None:
        outcome = Outcome.INSUFFICIENT_DATA
    elif lv.critical is not None and value < lv.critical:
        outcome = Outcome.FAIL
    elif lv.target is not None and value < lv.target:
        outcome = Outcome.WARN
    else:
        outcome = Outcome.PASS
    return Check(metric, value, lv.target, lv.critical, None, outcome)


def _volume_check(metric: Metric, value: int, minimum: int) -> Check:
    outcome = Outcome.INSUFFICIENT_DATA if value < minimum else Outcome.PASS
    return Check(metric, float(value), None, None, minimum, outcome)


def evaluate(levels: GateLevels, numbers: Numbers) -> Verdict:
    volume = (
        _volume_check(Metric.SESSIONS, numbers.sessions, levels.min_sessions),
        _volume_check(Metric.USERS, numbers.users, levels.min_users),
    )
    rates = tuple(
        _rate_check(metric, value, lv)
        for metric, value, lv in (
            (Metric.CRASH_FREE_SESSIONS, numbers.crash_free_sessions, levels.crash_free_sessions),
            (Metric.CRASH_FREE_USERS, numbers.crash_free_users, levels.crash_free_users),
            (Metric.ADOPTION, numbers.adoption, levels.adoption),
        )
        if lv.checked
    )
    checks = volume + rates
    short = next((c for c in volume if c.outcome is Outcome.INSUFFICIENT_DATA), None)
    if short is not None:
        return Verdict(Outcome.INSUFFICIENT_DATA, checks, short, describe(short))
    worst = max(rates, key=lambda c: SEVERITY[c.outcome], default=None)
    if worst is None or worst.outcome is Outcome.PASS:
        rule = "every level is met" if rates else "no level is set and the minimum volume is met"
        return Verdict(Outcome.PASS, checks, None, rule)
    return Verdict(worst.outcome, checks, worst, describe(worst))


def describe(check: Check) -> str:
    """One check as a sentence, e.g. `crash-free sessions 97.5 % is below the critical level 98 %`."""
    label = LABELS[check.metric]
    if check.minimum is not None:
        value = int(check.value or 0)
        relation = "below" if check.outcome is Outcome.INSUFFICIENT_DATA else "at least"
        return f"{label} {value} is {relation} the minimum {check.minimum}"
    if check.value is None:
        return (
            f"{label} has no value (no {'users' if check.metric is Metric.CRASH_FREE_USERS else 'sessions'})"
        )
    shown = f"{label} {round(check.value, 4):g} %"
    if check.outcome is Outcome.FAIL:
        return f"{shown} is below the critical level {check.critical:g} %"
    if check.outcome is Outcome.WARN:
        return f"{shown} is below the target {check.target:g} %"
    return f"{shown} meets its levels"
