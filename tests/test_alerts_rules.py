"""The pure alert rules (`resolvers/alerts.py`): levels with hysteresis in both
directions, transitions, validation and release selection, on numbers worked by hand."""

from __future__ import annotations

import pytest

from resolvers.alerts import (
    Direction,
    Level,
    Numbers,
    Selector,
    Thresholds,
    TransitionKind,
    level,
    select_releases,
    transition,
    validate,
)

CRASH_FREE = Thresholds(warning=95, critical=90, warning_resolve=97, critical_resolve=92, min_sessions=10)
W, C, OK = Level.WARNING, Level.CRITICAL, Level.OK
HIGH_ADOPTION = Thresholds(direction=Direction.ABOVE, warning=50, critical=80, critical_resolve=70)


def _walk(t: Thresholds, values: list[float | None], sessions: int = 100) -> list[Level]:
    levels, current = [], Level.OK
    for v in values:
        current = level(t, Numbers(sessions, 0, v), current)
        levels.append(current)
    return levels


def test_crash_free_with_hysteresis() -> None:
    # 95 is not below 95; 91.9 keeps CRITICAL (resolve 92); 96 keeps WARNING (resolve 97).
    values: list[float | None] = [100, 95, 94.9, 89.9, 91.9, 92, 96, 97, 94.9]
    assert _walk(CRASH_FREE, values) == [OK, OK, W, C, C, W, W, OK, W]


def test_adoption_above() -> None:
    assert _walk(HIGH_ADOPTION, [10, 50, 50.1, 81, 75, 70, 49]) == [OK, OK, W, C, C, W, OK]


def test_volume_and_missing_values_are_insufficient_data() -> None:
    assert level(CRASH_FREE, Numbers(9, 0, 50.0), Level.CRITICAL) is Level.INSUFFICIENT_DATA
    assert level(CRASH_FREE, Numbers(100, 0, None), Level.OK) is Level.INSUFFICIENT_DATA
    assert (
        level(Thresholds(critical=90, min_users=3), Numbers(100, 2, 50.0), Level.OK)
        is Level.INSUFFICIENT_DATA
    )


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (Level.OK, Level.WARNING, TransitionKind.OPEN),
        (Level.INSUFFICIENT_DATA, Level.CRITICAL, TransitionKind.OPEN),
        (Level.WARNING, Level.CRITICAL, TransitionKind.ESCALATE),
        (Level.CRITICAL, Level.WARNING, TransitionKind.DEESCALATE),
        (Level.CRITICAL, Level.OK, TransitionKind.RESOLVE),
        (Level.WARNING, Level.INSUFFICIENT_DATA, TransitionKind.STATE),
        (Level.OK, Level.INSUFFICIENT_DATA, TransitionKind.STATE),
        (Level.WARNING, Level.WARNING, None),
    ],
)
def test_transitions(before: Level, after: Level, kind: TransitionKind | None) -> None:
    assert transition(before, after) is kind


def test_validation() -> None:
    assert validate(CRASH_FREE) == [] and validate(HIGH_ADOPTION) == []
    assert [f for f, _ in validate(Thresholds())] == ["critical"]
    bad = Thresholds(warning=90, critical=95, warning_resolve=85, critical_resolve=101, min_sessions=-1)
    assert [f for f, _ in validate(bad)] == ["criticalResolve", "critical", "warningResolve", "minSessions"]
    assert [f for f, _ in validate(Thresholds(critical=90, warning_resolve=99))] == ["warningResolve"]


def test_release_selection() -> None:
    hour = 3600
    at = 100 * hour
    seen = {"app@1.0": 10 * hour, "app@2.0": 97 * hour, "app@2.1": 99 * hour}
    assert select_releases(Selector.LATEST, None, seen, at) == ["app@2.1"]
    assert select_releases(Selector.LATEST, None, {}, at) == []
    assert select_releases(Selector.CREATED_WITHIN_HOURS, "3", seen, at) == ["app@2.0", "app@2.1"]
    assert select_releases(Selector.VERSION, "app@1.0", {}, at) == ["app@1.0"]
