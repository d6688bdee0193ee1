"""Crash-rate alert evaluation (`release-health.md` section 7), as a pure state machine.

Mirrors one trigger of upstream's `SubscriptionProcessor.process_update`: an update that
breaches counts towards firing, an update past the resolve threshold counts towards
resolving, and an update without a usable value resets both streaks. The state is a
value, so callers can persist it however they like and replay updates deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resolvers.formulas import alert_crash_free_value

ThresholdType = Literal["below", "above"]
Transition = Literal["fired", "resolved"]


@dataclass(frozen=True, slots=True)
class AlertState:
    active: bool = False
    breaches: int = 0  # consecutive breaching updates while not active
    recoveries: int = 0  # consecutive resolving updates while active


@dataclass(frozen=True, slots=True)
class AlertStep:
    state: AlertState
    value: float | None  # the crash-free percentage evaluated, None when ignored
    transition: Transition | None = None


@dataclass(frozen=True, slots=True)
class CrashRateAlert:
    """Thresholds are crash-free percentages (0..100). `resolve_threshold` None means the
    alert threshold. With `minimum_sessions`, windows with fewer sessions (or users) are
    ignored like empty ones."""

    threshold: float
    threshold_period: int = 1
    resolve_threshold: float | None = None
    minimum_sessions: int | None = None
    threshold_type: ThresholdType = "below"

    def __post_init__(self) -> None:
        if self.threshold_period < 1:
            raise ValueError("threshold_period must be at least 1")
        # A resolve threshold on the breaching side would let one update both fire and
        # resolve; upstream's rule validation refuses it too.
        resolve = self.resolve_at
        if (resolve < self.threshold) if self.threshold_type == "below" else (resolve > self.threshold):
            raise ValueError("resolve_threshold is on the breaching side of threshold")

    @property
    def resolve_at(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def _breaches(self, value: float) -> bool:
        if self.threshold_type == "below":
            return value < self.threshold
        return value > self.threshold

    def _resolves(self, value: float) -> bool:
        if self.threshold_type == "below":
            return value > self.resolve_at
        return value < self.resolve_at

    def step(self, state: AlertState, crashed: int, total: int | None) -> AlertStep:
        """Evaluate one periodic update: `crashed` of `total` sessions (or users)."""
        value = alert_crash_free_value(crashed, total)
        too_few = self.minimum_sessions is not None and (total or 0) < self.minimum_sessions
        if value is None or too_few:
            return AlertStep(AlertState(active=state.active), None)

        if not self._breaches(value):
            breaches = 0
        elif state.active:
            breaches = state.breaches
        else:
            breaches = state.breaches + 1
        if not state.active and breaches >= self.threshold_period:
            return AlertStep(AlertState(active=True), value, "fired")

        recoveries = state.recoveries + 1 if state.active and self._resolves(value) else 0
        if recoveries >= self.threshold_period:
            return AlertStep(AlertState(active=False), value, "resolved")
        return AlertStep(AlertState(state.active, breaches, recoveries), value)
