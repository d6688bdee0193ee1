# mypy: disable-error-code="untyped-decorator"
"""`AlertRule` (a `Node`), its incidents and current levels, and their enums. Thresholds
and values are percentages 0..100 (`resolvers/alerts.py` has the rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.connection import DEFAULT_PAGE, Connection, page_of
from gql.core.context import ContextInfo
from gql.core.enums import AdoptionStage, ClientDimension, Period, _value
from gql.core.ids import global_id
from gql.core.scalars import Count
from gql.node import Node
from gql.releases.types import Release
from storage.alerts import AlertRule as Rule
from storage.alerts import Incident

if TYPE_CHECKING:
    from gql.projects.types import Project

_PAGE = Annotated[int, strawberry.argument(description="Page size, at most 100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


@strawberry.enum(description="What an alert rule measures over its window.")
class AlertMetric(Enum):
    CRASH_FREE_SESSIONS = _value("crash_free_sessions", "Percent 0..100 of sessions that did not crash.")
    CRASH_FREE_USERS = _value("crash_free_users", "Percent 0..100 of users without a crashed session.")
    ADOPTION = _value(
        "adoption",
        "Percent 0..100: the release's share of the project's sessions in the 24 hours before "
        "the evaluated minute, in the rule's environment.",
    )
    ADOPTION_STAGE = _value(
        "adoption_stage",
        "The release's adoption stage in the rule's environment (as `ReleaseHealth.adoptionStage`): "
        "the rule is at its `stageLevel` while the release is in its `stage`, OK otherwise, so an "
        "incident opens when the release enters the stage and resolves when it leaves it. No "
        "thresholds, volume or filter; the value is null.",
    )


@strawberry.enum(description="Which side of a threshold is bad.")
class AlertDirection(Enum):
    BELOW = _value("below", "A value below a threshold breaches it (crash-free rates, low adoption).")
    ABOVE = _value("above", "A value above a threshold breaches it (high adoption).")


@strawberry.enum(description="An alert rule's level for one release.")
class AlertLevel(Enum):
    OK = _value("ok", "No threshold is breached (or the last incident resolved).")
    WARNING = _value("warning", "The warning threshold is breached (an incident is open).")
    CRITICAL = _value("critical", "The critical threshold is breached (an incident is open).")
    INSUFFICIENT_DATA = _value(
        "insufficient_data",
        "Fewer sessions or users than the rule's minimum, or no value: never fires (an open "
        "incident stays open).",
    )


@strawberry.enum(description="How an alert rule picks the releases it evaluates.")
class AlertReleaseSelection(Enum):
    LATEST = _value(
        "latest",
        "The project's latest release: the newest first seen among those with sessions in the window.",
    )
    CREATED_WITHIN_HOURS = _value(
        "created_within_hours", "Every release first seen in the last N hours, each on its own."
    )
    VERSION = _value("version", "One named version.")


@strawberry.type(description="The releases an alert rule evaluates.")
class AlertReleaseSelector:
    kind: AlertReleaseSelection = strawberry.field(description="How the releases are picked.")
    created_within_hours: int | None = strawberry.field(description="N, for CREATED_WITHIN_HOURS; else null.")
    version: str | None = strawberry.field(description="The version, for VERSION; else null.")


@strawberry.type(description="The client-dimension value an alert rule's numbers are narrowed to.")
class AlertDimensionFilter:
    dimension: ClientDimension = strawberry.field(description="The dimension, e.g. `OS`.")
    value: str = strawberry.field(description="Its value, e.g. `iOS`.")


@strawberry.type(description="A rule's current level for one release.")
class AlertReleaseState:
    release: Release = strawberry.field(description="The release.")
    level: AlertLevel = strawberry.field(description="Its level since the last transition.")
    value: float | None = strawberry.field(description="The value at the last transition, percent 0..100.")
    since: datetime = strawberry.field(description="The minute of the last transition.")


@strawberry.type(
    description="An incident: from the minute a release breached a rule's warning or critical "
    "threshold until it resolved, with the value at each transition."
)
class AlertIncident:
    incident: strawberry.Private[Incident]
    project_id: strawberry.Private[int]

    @classmethod
    def of(cls, project_id: int, incident: Incident) -> AlertIncident:
        return cls(incident=incident, project_id=project_id)

    @strawberry.field(description="The release that breached the rule.")
    def release(self) -> Release:
        return Release.of(self.project_id, self.incident.release)

    @strawberry.field(
        description="The highest level reached: WARNING or CRITICAL (an incident never de-escalates)."
    )
    def level(self) -> AlertLevel:
        return AlertLevel(self.incident.level.value)

    @strawberry.field(description="The minute the incident opened.")
    def opened_at(self) -> datetime:
        return self.incident.opened_at

    @strawberry.field(description="The value when it opened, percent 0..100.")
    def open_value(self) -> float | None:
        return self.incident.open_value

    @strawberry.field(description="The minute it escalated from WARNING to CRITICAL; null if it did not.")
    def escalated_at(self) -> datetime | None:
        return self.incident.escalated_at

    @strawberry.field(description="The value when it escalated, percent 0..100; null if it did not.")
    def escalate_value(self) -> float | None:
        return self.incident.escalate_value

    @strawberry.field(
        description="The minute it resolved (the value crossed the resolve threshold); null while open."
    )
    def closed_at(self) -> datetime | None:
        return self.incident.closed_at

    @strawberry.field(description="The value when it resolved, percent 0..100; null while open.")
    def close_value(self) -> float | None:
        return self.incident.close_value

    @strawberry.field(
        description="True when a re-evaluation after late data (sessions that arrived after their "
        "hour ended) opened, escalated or closed it, at the minute it truly happened."
    )
    def late(self) -> bool:
        return self.incident.late


@strawberry.type(
    description="A crash-rate or adoption alert: a metric of selected releases of a project, "
    "evaluated every minute over a window against warning and critical thresholds with "
    "resolve thresholds (hysteresis). Percentages 0..100; a null threshold is not checked."
)
class AlertRule(Node):
    rule: strawberry.Private[Rule]

    @classmethod
    def of(cls, rule: Rule) -> AlertRule:
        return cls(id=global_id("AlertRule", rule.id), rule=rule)

    @strawberry.field(description="The project the rule watches.")
    async def project(self, info: ContextInfo) -> Annotated[Project, strawberry.lazy("gql.projects.types")]:
        from gql.projects.types import Project

        found = await info.context.loaders.project_by_id.load(self.rule.project_id)
        assert found is not None  # a rule of the caller's organization is of one of its projects
        return Project.from_info(found)

    @strawberry.field(description="The rule's name, for people.")
    def name(self) -> str:
        return self.rule.spec.name

    @strawberry.field(description="The environment; null: every environment.")
    def environment(self) -> str | None:
        return self.rule.spec.environment

    @strawberry.field(
        description="Only sessions of this client-dimension value are counted; null: every session."
    )
    def filter(self) -> AlertDimensionFilter | None:
        s = self.rule.spec
        if s.dimension is None or s.dimension_value is None:
            return None
        return AlertDimensionFilter(dimension=ClientDimension(s.dimension), value=s.dimension_value)

    @strawberry.field(description="For ADOPTION_STAGE: the stage watched; else null.")
    def stage(self) -> AdoptionStage | None:
        s = self.rule.spec.stage
        return None if s is None else AdoptionStage(s)

    @strawberry.field(
        description="For ADOPTION_STAGE: the level (WARNING or CRITICAL) while the release is in "
        "`stage`; else null."
    )
    def stage_level(self) -> AlertLevel | None:
        s = self.rule.spec.stage_level
        return None if s is None else AlertLevel(s)

    @strawberry.field(description="The releases evaluated.")
    def releases(self) -> AlertReleaseSelector:
        s = self.rule.spec
        kind = AlertReleaseSelection(s.selector)
        hours = s.selector_argument if kind is AlertReleaseSelection.CREATED_WITHIN_HOURS else None
        return AlertReleaseSelector(
            kind=kind,
            created_within_hours=None if hours is None else int(hours),
            version=s.selector_argument if kind is AlertReleaseSelection.VERSION else None,
        )

    @strawberry.field(description="What is measured.")
    def metric(self) -> AlertMetric:
        return AlertMetric(self.rule.spec.metric)

    @strawberry.field(description="Which side of the thresholds is bad.")
    def direction(self) -> AlertDirection:
        return AlertDirection(self.rule.spec.direction)

    @strawberry.field(description="The window the metric is computed over, ending at each evaluated minute.")
    def window(self) -> Period:
        return Period[self.rule.spec.time_window]

    @strawberry.field(description="Breaching this percent is WARNING; null: no warning level.")
    def warning(self) -> float | None:
        return self.rule.spec.warning

    @strawberry.field(description="Breaching this percent is CRITICAL; null: no critical level.")
    def critical(self) -> float | None:
        return self.rule.spec.critical

    @strawberry.field(
        description="A firing rule stays at least WARNING until the value leaves the bad side of "
        "this percent; null: the warning threshold itself."
    )
    def warning_resolve(self) -> float | None:
        return self.rule.spec.warning_resolve

    @strawberry.field(
        description="A CRITICAL rule stays CRITICAL until the value leaves the bad side of this "
        "percent; null: the critical threshold itself."
    )
    def critical_resolve(self) -> float | None:
        return self.rule.spec.critical_resolve

    @strawberry.field(
        description="Fewer sessions than this in the window is INSUFFICIENT_DATA (0: no minimum)."
    )
    def min_sessions(self) -> Count:
        return Count(self.rule.spec.min_sessions)

    @strawberry.field(description="Fewer users than this in the window is INSUFFICIENT_DATA (0: no minimum).")
    def min_users(self) -> Count:
        return Count(self.rule.spec.min_users)

    @strawberry.field(description="Whether the rule is evaluated.")
    def enabled(self) -> bool:
        return self.rule.spec.enabled

    @strawberry.field(description="The last minute evaluated; null before the first evaluation.")
    def evaluated_through(self) -> datetime | None:
        t = self.rule.evaluated_through
        return None if t is None else datetime.fromtimestamp(t, UTC)

    @strawberry.field(description="The current level of each release evaluated so far, by version.")
    async def states(self, info: ContextInfo) -> list[AlertReleaseState]:
        found = await info.context.loaders.alert_states.load(self.rule.id)
        return [
            AlertReleaseState(
                release=Release.of(self.rule.project_id, release),
                level=AlertLevel(s.level.value),
                value=s.value,
                since=datetime.fromtimestamp(s.evaluated_through, UTC),
            )
            for release, s in found.items()
        ]

    @strawberry.field(description="The rule's incidents, newest first.")
    async def incidents(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[AlertIncident]:
        found = await info.context.loaders.alert_incidents.load(self.rule.id)
        return page_of([AlertIncident.of(self.rule.project_id, i) for i in found], first, after)

    @strawberry.field(description="When the rule was created.")
    def created_at(self) -> datetime:
        return self.rule.created_at

    @strawberry.field(description="When its settings last changed.")
    def updated_at(self) -> datetime:
        return self.rule.updated_at
