"""An alert rule's level at one instant, and the transition between two levels (issue 10
section 3, docs/alerts.md). Pure: the numbers come in, the level comes out.

Units: rates and thresholds are percentages 0..100; volumes are counts.

The rules, in the order they decide:

1. Volume: fewer sessions than `min_sessions`, fewer users than `min_users`, or no value
   at all is INSUFFICIENT_DATA (never firing: Sentry #79082).
2. A value *breaches* a threshold when it is on the bad side of it: below it for
   direction BELOW (crash-free), above it for ABOVE. Equal is not a breach.
3. Hysteresis: a rule that is CRITICAL stays CRITICAL until the value is no longer on the
   bad side of `critical_resolve` (default: `critical`); likewise WARNING (or CRITICAL
   falling back) stays WARNING until it leaves the bad side of `warning_resolve`
   (default: `warning`). So a value hovering at a threshold does not flap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Level(Enum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    INSUFFICIENT_DATA = "insufficient_data"


#: Levels that have an open incident.
FIRING = frozenset({Level.WARNING, Level.CRITICAL})


class AlertMetric(Enum):
    CRASH_FREE_SESSIONS = "crash_free_sessions"
    CRASH_FREE_USERS = "crash_free_users"
    ADOPTION = "adoption"
    #: The release's adoption stage in the rule's environment (release-health.md 6.2).
    ADOPTION_STAGE = "adoption_stage"


#: The adoption stages (`resolvers.adoption_stage.Stage`).
STAGES = ("adopted", "low_adoption", "replaced")


class Direction(Enum):
    #: Fires when the value falls below a threshold (crash-free rates, low adoption).
    BELOW = "below"
    #: Fires when the value rises above a threshold (high adoption).
    ABOVE = "above"


class Selector(Enum):
    #: The project's latest release: the newest first seen among those with sessions in the window.
    LATEST = "latest"
    #: Every release first seen in the last N hours, each on its own.
    CREATED_WITHIN_HOURS = "created_within_hours"
    #: One named version.
    VERSION = "version"


@dataclass(frozen=True, slots=True)
class Thresholds:
    direction: Direction = Direction.BELOW
    warning: float | None = None
    critical: float | None = None
    warning_resolve: float | None = None
    critical_resolve: float | None = None
    min_sessions: int = 0
    min_users: int = 0


@dataclass(frozen=True, slots=True)
class Numbers:
    """A release's numbers over the rule's window at one instant."""

    sessions: int
    users: int
    value: float | None


class TransitionKind(Enum):
    #: Not firing -> firing: an incident opens.
    OPEN = "open"
    #: WARNING -> CRITICAL: the open incident escalates.
    ESCALATE = "escalate"
    #: CRITICAL -> WARNING: the incident stays open at its peak level.
    DEESCALATE = "deescalate"
    #: Firing -> OK: the incident closes.
    RESOLVE = "resolve"
    #: Any other change (OK <-> INSUFFICIENT_DATA, firing -> INSUFFICIENT_DATA): no
    #: incident changes; a firing rule that loses its data keeps its incident open.
    STATE = "state"


def _bad(direction: Direction, value: float, threshold: float | None) -> bool:
    if threshold is None:
        return False
    return value < threshold if direction is Direction.BELOW else value > threshold


def level(t: Thresholds, numbers: Numbers, previous: Level) -> Level:
    """The level of `numbers` given the `previous` level (for the resolve thresholds)."""
    if numbers.sessions < t.min_sessions or numbers.users < t.min_users or numbers.value is None:
        return Level.INSUFFICIENT_DATA
    v, d = numbers.value, t.direction
    critical_resolve = t.critical if t.critical_resolve is None else t.critical_resolve
    warning_resolve = t.warning if t.warning_resolve is None else t.warning_resolve
    if _bad(d, v, t.critical) or (previous is Level.CRITICAL and _bad(d, v, critical_resolve)):
        return Level.CRITICAL
    if _bad(d, v, t.warning) or (previous in FIRING and _bad(d, v, warning_resolve)):
        return Level.WARNING
    return Level.OK


def stage_level(target: str, stage: str | None, configured: Level) -> Level:
    """An ADOPTION_STAGE rule's level: its configured level (WARNING or CRITICAL) while
    the release is in the `target` stage, OK otherwise. So the incident opens when the
    release enters the stage and resolves when it leaves it. `stage` None (a release
    without a stage: an invalid version) is INSUFFICIENT_DATA."""
    if stage is None:
        return Level.INSUFFICIENT_DATA
    return configured if stage == target else Level.OK


def validate_stage(
    *, stage: str | None, level: Level | None, environment: str | None, t: Thresholds, narrowed: bool
) -> list[tuple[str, str]]:
    """`(field, message)` of what an ADOPTION_STAGE rule may not have: stages are per
    environment, of every session, and judged without thresholds or volume."""
    problems: list[tuple[str, str]] = []
    if stage is None or stage not in STAGES:
        problems.append(("stage", "ADOPTION_STAGE needs the stage it watches."))
    if level not in FIRING:
        problems.append(("stageLevel", "stageLevel is WARNING or CRITICAL."))
    if environment is None:
        problems.append(("environment", "Adoption stages are per environment: set one."))
    if narrowed:
        problems.append(("filter", "Adoption stages count every session: no filter."))
    for name, value in (
        ("warning", t.warning),
        ("critical", t.critical),
        ("warningResolve", t.warning_resolve),
        ("criticalResolve", t.critical_resolve),
    ):
        if value is not None:
            problems.append((name, f"ADOPTION_STAGE has no thresholds: leave {name} out."))
    for name, minimum in (("minSessions", t.min_sessions), ("minUsers", t.min_users)):
        if minimum:
            problems.append((name, f"ADOPTION_STAGE has no minimum volume: leave {name} out."))
    return problems


def transition(before: Level, after: Level) -> TransitionKind | None:
    """What moving from `before` to `after` does to incidents; None: no change."""
    if before is after:
        return None
    if after in FIRING and before not in FIRING:
        return TransitionKind.OPEN
    if before is Level.WARNING and after is Level.CRITICAL:
        return TransitionKind.ESCALATE
    if before is Level.CRITICAL and after is Level.WARNING:
        return TransitionKind.DEESCALATE
    if before in FIRING and after is Level.OK:
        return TransitionKind.RESOLVE
    return TransitionKind.STATE


def validate(t: Thresholds) -> list[tuple[str, str]]:
    """`(field, message)` of every invalid threshold: none set, outside 0..100, a critical
    level on the healthy side of the warning, a resolve threshold on the bad side of its
    level, or negative minimums."""
    problems: list[tuple[str, str]] = []
    if t.warning is None and t.critical is None:
        problems.append(("critical", "Set a critical or a warning threshold (or both)."))
    named = (
        ("warning", t.warning),
        ("critical", t.critical),
        ("warningResolve", t.warning_resolve),
        ("criticalResolve", t.critical_resolve),
    )
    for name, value in named:
        if value is not None and not 0 <= value <= 100:
            problems.append((name, f"{name} must be a percentage 0..100, not {value:g}."))
    side = "below" if t.direction is Direction.BELOW else "above"
    if t.warning is not None and t.critical is not None and _bad(t.direction, t.warning, t.critical):
        message = f"critical ({t.critical:g}) must not be {side} warning ({t.warning:g})."
        problems.append(("critical", message))
    for name, resolve, lv in (
        ("warningResolve", t.warning_resolve, t.warning),
        ("criticalResolve", t.critical_resolve, t.critical),
    ):
        if resolve is None:
            continue
        if lv is None:
            problems.append((name, f"{name} needs its level set."))
        elif _bad(t.direction, resolve, lv):
            problems.append((name, f"{name} ({resolve:g}) must not be {side} its level ({lv:g})."))
    for name, minimum in (("minSessions", t.min_sessions), ("minUsers", t.min_users)):
        if minimum < 0:
            problems.append((name, f"{name} must be 0 or more, not {minimum}."))
    return problems


def select_releases(
    selector: Selector, argument: str | None, first_seen: dict[str, int], at: float
) -> list[str]:
    """The releases a rule evaluates at `at`. `first_seen` maps every release with
    sessions in the rule's window to the start of its first stored bucket (unix seconds).
    LATEST: the newest first seen (ties: the greatest name); CREATED_WITHIN_HOURS:
    every release first seen in the last `argument` hours; VERSION: `argument` itself,
    evaluated even without sessions (then INSUFFICIENT_DATA)."""
    if selector is Selector.VERSION:
        return [argument] if argument else []
    if selector is Selector.LATEST:
        if not first_seen:
            return []
        return [max(first_seen, key=lambda r: (first_seen[r], r))]
    since = at - int(argument or 0) * 3600
    return sorted(r for r, seen in first_seen.items() if seen >= since)
