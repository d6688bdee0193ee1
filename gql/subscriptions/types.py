# mypy: disable-error-code="untyped-decorator"
"""The events the subscriptions yield, read from the payloads `storage.events` keeps (the
webhook bodies). Their ids are global ids of the event log (`HealthEvent:[id]`), the
`after` cursor of every subscription. Payload values this version does not know (a level
or verdict added later) read as null rather than failing the whole event."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import strawberry

from gql.alerts.types import AlertLevel, AlertMetric
from gql.core.enums import AdoptionStage, _value
from gql.core.ids import global_id
from gql.core.scalars import Count
from gql.gates.types import GateOutcome
from gql.releases.types import Release
from storage.events import Event

#: The type name inside every event id.
EVENT_TYPE_NAME = "HealthEvent"

E = TypeVar("E", bound=Enum)


def event_id(e: Event) -> strawberry.ID:
    return global_id(EVENT_TYPE_NAME, e.id)


def _enum(kind: type[E], value: Any) -> E | None:
    """`kind`'s member named or valued `value` (`OK`, `ok`), else None."""
    if not isinstance(value, str):
        return None
    for member in kind:
        if value.upper() == member.name or value.lower() == member.value:
            return member
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: Any) -> Count | None:
    n = _number(value)
    return None if n is None else Count(int(n))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@strawberry.enum(description="What an alert transition did to the rule's incident for the release.")
class AlertTransitionKind(Enum):
    OPEN = _value("open", "Not firing to WARNING or CRITICAL: an incident opened.")
    ESCALATE = _value("escalate", "WARNING to CRITICAL: the open incident escalated.")
    DEESCALATE = _value("deescalate", "CRITICAL to WARNING: the incident stays open at its peak level.")
    RESOLVE = _value("resolve", "Firing to OK: the incident closed.")
    STATE = _value(
        "state",
        "Any other change (OK to or from INSUFFICIENT_DATA, firing to INSUFFICIENT_DATA): "
        "no incident changed.",
    )


@strawberry.interface(description="A change reported by the health event log, once, in commit order.")
class HealthEvent:
    id: strawberry.ID = strawberry.field(
        description="The event's global id: pass it as `after` to resume a subscription after it."
    )
    at: datetime = strawberry.field(description="The evaluated minute the change happened at.")
    release: Release = strawberry.field(description="The release that changed.")
    environment: str | None = strawberry.field(description="The environment; null: every environment.")


@strawberry.type(description="An alert rule's level for a release changed (`alertTransitions`).")
class AlertTransitionEvent(HealthEvent):
    rule_id: strawberry.ID = strawberry.field(description="The alert rule's global id (`node(id:)`).")
    rule_name: str = strawberry.field(description="The rule's name when it fired.")
    metric: AlertMetric | None = strawberry.field(description="What the rule measures.")
    from_: AlertLevel | None = strawberry.field(name="from", description="The level before.")
    to: AlertLevel | None = strawberry.field(description="The level after.")
    kind: AlertTransitionKind | None = strawberry.field(description="What happened to the incident.")
    value: float | None = strawberry.field(
        description="The rule's metric at `at`, percent 0..100; null without a value."
    )
    late: bool = strawberry.field(
        description="Whether the transition was found later, when data for a past window "
        "arrived late (its `at` is still the minute it happened at)."
    )

    @classmethod
    def of(cls, e: Event) -> AlertTransitionEvent:
        p = e.payload
        rule = p.get("rule") if isinstance(p.get("rule"), dict) else {}
        assert isinstance(rule, dict)
        return cls(
            id=event_id(e),
            at=e.at,
            release=Release.of(e.project_id, str(p.get("release", ""))),
            environment=_text(p.get("environment")),
            rule_id=global_id("AlertRule", rule.get("id")),
            rule_name=str(rule.get("name", "")),
            metric=_enum(AlertMetric, rule.get("metric")),
            from_=_enum(AlertLevel, p.get("from")),
            to=_enum(AlertLevel, p.get("to")),
            kind=_enum(AlertTransitionKind, p.get("kind")),
            value=_number(p.get("value")),
            late=p.get("late") is True,
        )


@strawberry.type(
    description="A health gate's verdict on a release changed (`gateVerdictChanges`), with the "
    "numbers it was decided on."
)
class GateVerdictChangeEvent(HealthEvent):
    gate_id: strawberry.ID = strawberry.field(description="The health gate's global id (`node(id:)`).")
    from_: GateOutcome | None = strawberry.field(
        name="from", description="The verdict before; null for the release's first verdict."
    )
    to: GateOutcome | None = strawberry.field(description="The verdict after.")
    rule: str | None = strawberry.field(description="The deciding rule in words.")
    sessions: Count | None = strawberry.field(description="Sessions started in the gate's window.")
    users: Count | None = strawberry.field(description="Distinct users in the gate's window.")
    crash_free_session_rate: float | None = strawberry.field(
        description="Percent 0..100 of sessions that did not crash; null without sessions."
    )
    crash_free_user_rate: float | None = strawberry.field(
        description="Percent 0..100 of users without a crashed session; null without users."
    )
    adoption: float | None = strawberry.field(
        description="Percent 0..100 of the project's sessions in the 24 hours before `at`."
    )

    @classmethod
    def of(cls, e: Event) -> GateVerdictChangeEvent:
        p = e.payload
        gate = p.get("gate") if isinstance(p.get("gate"), dict) else {}
        numbers = p.get("numbers") if isinstance(p.get("numbers"), dict) else {}
        assert isinstance(gate, dict) and isinstance(numbers, dict)
        return cls(
            id=event_id(e),
            at=e.at,
            release=Release.of(e.project_id, str(p.get("release", ""))),
            environment=_text(p.get("environment")),
            gate_id=global_id("HealthGate", gate.get("id")),
            from_=_enum(GateOutcome, p.get("from")),
            to=_enum(GateOutcome, p.get("to")),
            rule=_text(p.get("rule")),
            sessions=_count(numbers.get("sessions")),
            users=_count(numbers.get("users")),
            crash_free_session_rate=_number(numbers.get("crashFreeSessionRate")),
            crash_free_user_rate=_number(numbers.get("crashFreeUserRate")),
            adoption=_number(numbers.get("adoption")),
        )


@strawberry.type(description="A release's adoption stage in an environment changed (`adoptionStageChanges`).")
class AdoptionStageChangeEvent(HealthEvent):
    from_: AdoptionStage | None = strawberry.field(
        name="from", description="The stage before; null when the release had none."
    )
    to: AdoptionStage | None = strawberry.field(
        description="The stage after; null when the release no longer has one."
    )
    session_adoption: float | None = strawberry.field(
        description="Percent 0..100 of the environment's sessions in the 24 hours before `at`."
    )
    user_adoption: float | None = strawberry.field(
        description="Percent 0..100 of the environment's users in the 24 hours before `at`."
    )

    @classmethod
    def of(cls, e: Event) -> AdoptionStageChangeEvent:
        p = e.payload
        adoption = p.get("adoption") if isinstance(p.get("adoption"), dict) else {}
        assert isinstance(adoption, dict)
        return cls(
            id=event_id(e),
            at=e.at,
            release=Release.of(e.project_id, str(p.get("release", ""))),
            environment=_text(p.get("environment")),
            from_=_enum(AdoptionStage, p.get("from")),
            to=_enum(AdoptionStage, p.get("to")),
            session_adoption=_number(adoption.get("sessionRate")),
            user_adoption=_number(adoption.get("userRate")),
        )
