"""Crash-rate alert evaluation (`release-health.md` section 7)."""

import pytest

from resolvers.crash_rate_alert import AlertState, CrashRateAlert

IDLE = AlertState()


def run(alert: CrashRateAlert, updates: list[tuple[int, int | None]]) -> list[str | None]:
    state = IDLE
    transitions: list[str | None] = []
    for crashed, total in updates:
        step = alert.step(state, crashed, total)
        state = step.state
        transitions.append(step.transition)
    return transitions


def test_values_are_rounded_crash_free_percentages() -> None:
    alert = CrashRateAlert(threshold=50.0)
    # 1 of 4: (1 − 0.25) * 100 = 75.0; 1 of 3: round(66.666…, 3) = 66.667.
    assert alert.step(IDLE, 1, 4).value == 75.0
    assert alert.step(IDLE, 1, 3).value == 66.667


def test_fires_after_threshold_period_consecutive_breaches() -> None:
    alert = CrashRateAlert(threshold=90.0, threshold_period=3)
    # 1 of 4 = 75 < 90 breaches; 0 of 4 = 100 does not.
    assert run(alert, [(1, 4), (1, 4), (1, 4)]) == [None, None, "fired"]
    # A non-breaching update in between restarts the streak.
    assert run(alert, [(1, 4), (1, 4), (0, 4), (1, 4), (1, 4)]) == [None] * 5


def test_resolves_after_threshold_period_updates_above_resolve_threshold() -> None:
    alert = CrashRateAlert(threshold=90.0, threshold_period=2, resolve_threshold=95.0)
    # Fire with 75, 75. Then 0 of 100 = 100 > 95 twice resolves; 4 of 100 = 96 > 95 counts;
    # 5 of 100 = 95 is not above 95 and resets the resolve streak.
    assert run(alert, [(1, 4), (1, 4), (0, 100), (5, 100), (4, 100), (4, 100)]) == [
        None,
        "fired",
        None,
        None,
        None,
        "resolved",
    ]


def test_resolve_threshold_defaults_to_the_threshold() -> None:
    alert = CrashRateAlert(threshold=90.0)
    # 75 fires; exactly 90 neither breaches nor resolves; 91 (9 of 100) resolves.
    assert run(alert, [(1, 4), (10, 100), (9, 100)]) == ["fired", None, "resolved"]


def test_breaching_while_active_does_not_fire_again() -> None:
    alert = CrashRateAlert(threshold=90.0)
    assert run(alert, [(1, 4), (1, 4), (1, 4)]) == ["fired", None, None]


def test_empty_window_is_ignored_and_resets_counters() -> None:
    alert = CrashRateAlert(threshold=90.0, threshold_period=2)
    state = alert.step(IDLE, 1, 4).state
    assert state.breaches == 1
    ignored = alert.step(state, 0, 0)
    assert ignored.value is None and ignored.transition is None
    assert ignored.state == AlertState()
    assert alert.step(state, 0, None).state == AlertState()
    # The streak starts again: one more breach does not fire.
    assert alert.step(ignored.state, 1, 4).transition is None


def test_minimum_sessions() -> None:
    # 1 of 5 with a minimum of 10 is ignored (and resets the counters); 1 of 10 is not.
    alert = CrashRateAlert(threshold=95.0, minimum_sessions=10)
    state = AlertState(breaches=0)
    assert alert.step(state, 1, 5).value is None
    assert alert.step(state, 1, 10).transition == "fired"  # 90 < 95


def test_ignoring_keeps_an_active_alert_active() -> None:
    alert = CrashRateAlert(threshold=90.0, threshold_period=2)
    active = AlertState(active=True, recoveries=1)
    assert alert.step(active, 0, 0).state == AlertState(active=True)


def test_above_thresholds_reverse_the_comparisons() -> None:
    alert = CrashRateAlert(threshold=90.0, threshold_type="above", resolve_threshold=80.0)
    # 100 > 90 fires; 75 < 80 resolves; 85 does neither.
    assert run(alert, [(0, 4), (3, 20), (1, 4)]) == ["fired", None, "resolved"]


def test_clamped_value() -> None:
    # 5 crashes of 2 sessions: 1 − 2.5 is clamped to 0 -> 0.0, not −150.
    assert CrashRateAlert(threshold=50.0).step(IDLE, 5, 2).value == 0.0


@pytest.mark.parametrize(
    "config",
    [
        {"threshold": 90.0, "threshold_period": 0},
        {"threshold": 90.0, "resolve_threshold": 80.0},
        {"threshold": 90.0, "resolve_threshold": 95.0, "threshold_type": "above"},
    ],
)
def test_inconsistent_configurations_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CrashRateAlert(**config)  # type: ignore[arg-type]
