# mypy: disable-error-code="untyped-decorator"
"""`HealthGate` (a `Node`), the verdict `GateEvaluation` and their enums. Rates and levels
are percentages 0..100; a level that is null is not checked (`resolvers/gates.py`)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import ClientDimension, Period, _value
from gql.core.ids import global_id
from gql.core.scalars import Count
from gql.core.scope import ResolvedScope
from gql.node import Node
from resolvers import gates as rules
from storage.gates import Gate

if TYPE_CHECKING:
    from gql.projects.types import Project


@strawberry.enum(description="A gate's verdict on a release (exit codes of `relhealth gate` in brackets).")
class GateOutcome(Enum):
    PASS = _value("pass", "Every level is met (0).")
    WARN = _value("warn", "A number is below its target but not below its critical level (1).")
    FAIL = _value("fail", "A number is below its critical level (2).")
    INSUFFICIENT_DATA = _value(
        "insufficient_data",
        "Fewer sessions or users than the gate's minimum, or a checked rate without a value (3).",
    )


@strawberry.enum(description="What a gate check measures.")
class GateMetric(Enum):
    SESSIONS = _value("sessions", "Sessions started in the gate's window (a count).")
    USERS = _value("users", "Distinct users in the gate's window (a count).")
    CRASH_FREE_SESSIONS = _value("crash_free_sessions", "Percent 0..100 of sessions that did not crash.")
    CRASH_FREE_USERS = _value("crash_free_users", "Percent 0..100 of users without a crashed session.")
    ADOPTION = _value(
        "adoption",
        "Percent 0..100: the release's share of the project's sessions in the 24 hours "
        "before `at`, in the gate's environment (the adoption stage's measure).",
    )


@strawberry.type(description="The client-dimension value a gate's numbers are narrowed to.")
class GateDimension:
    dimension: ClientDimension = strawberry.field(description="The dimension, e.g. `OS`.")
    value: str = strawberry.field(description="Its value, e.g. `iOS`.")


@strawberry.type(
    description="Levels a release's numbers must reach over a window, for one project and "
    "environment (at most one gate per project and environment). Percentages 0..100; a "
    "null level is not checked."
)
class HealthGate(Node):
    gate: strawberry.Private[Gate]

    @classmethod
    def of(cls, gate: Gate) -> HealthGate:
        return cls(id=global_id("HealthGate", gate.id), gate=gate)

    @strawberry.field(description="The project the gate applies to.")
    async def project(self, info: ContextInfo) -> Annotated[Project, strawberry.lazy("gql.projects.types")]:
        from gql.projects.types import Project

        found = await info.context.loaders.project_by_id.load(self.gate.project_id)
        assert found is not None  # a gate of the caller's organization is of one of its projects
        return Project.from_info(found)

    @strawberry.field(description="The environment; null for a gate that applies to every environment.")
    def environment(self) -> str | None:
        return self.gate.rule.environment

    @strawberry.field(description="The dimension value the numbers are narrowed to; null for all sessions.")
    def dimension(self) -> GateDimension | None:
        r = self.gate.rule
        if r.dimension is None or r.dimension_value is None:
            return None
        return GateDimension(dimension=ClientDimension(r.dimension), value=r.dimension_value)

    @strawberry.field(
        description="The window the numbers are computed over, ending at the evaluation instant."
    )
    def window(self) -> Period:
        return Period[self.gate.rule.time_window]

    @strawberry.field(description="Crash-free sessions below this percent WARN; null: not checked.")
    def crash_free_sessions_target(self) -> float | None:
        return self.gate.rule.crash_free_sessions_target

    @strawberry.field(description="Crash-free sessions below this percent FAIL; null: not checked.")
    def crash_free_sessions_critical(self) -> float | None:
        return self.gate.rule.crash_free_sessions_critical

    @strawberry.field(description="Crash-free users below this percent WARN; null: not checked.")
    def crash_free_users_target(self) -> float | None:
        return self.gate.rule.crash_free_users_target

    @strawberry.field(description="Crash-free users below this percent FAIL; null: not checked.")
    def crash_free_users_critical(self) -> float | None:
        return self.gate.rule.crash_free_users_critical

    @strawberry.field(description="Adoption below this percent WARN; null: not checked.")
    def adoption_target(self) -> float | None:
        return self.gate.rule.adoption_target

    @strawberry.field(description="Adoption below this percent FAILs; null: not checked.")
    def adoption_critical(self) -> float | None:
        return self.gate.rule.adoption_critical

    @strawberry.field(
        description="Fewer sessions than this in the window is INSUFFICIENT_DATA (0: no minimum)."
    )
    def min_sessions(self) -> Count:
        return Count(self.gate.rule.min_sessions)

    @strawberry.field(description="Fewer users than this in the window is INSUFFICIENT_DATA (0: no minimum).")
    def min_users(self) -> Count:
        return Count(self.gate.rule.min_users)

    @strawberry.field(description="When the gate was created.")
    def created_at(self) -> datetime:
        return self.gate.created_at

    @strawberry.field(description="When its rules last changed.")
    def updated_at(self) -> datetime:
        return self.gate.updated_at


@strawberry.type(description="One check of a gate: a number against its levels.")
class GateCheck:
    metric: GateMetric = strawberry.field(description="What was measured.")
    value: float | None = strawberry.field(
        description="The release's value: a count for SESSIONS and USERS, else percent 0..100; "
        "null when there was nothing to compute it from."
    )
    target: float | None = strawberry.field(description="The target level, percent; null when not set.")
    critical: float | None = strawberry.field(description="The critical level, percent; null when not set.")
    minimum: Count | None = strawberry.field(
        description="The minimum volume (SESSIONS and USERS checks only); null for rates."
    )
    outcome: GateOutcome = strawberry.field(description="This check's outcome.")

    @classmethod
    def of(cls, c: rules.Check) -> GateCheck:
        return cls(
            metric=GateMetric(c.metric.value),
            value=c.value,
            target=c.target,
            critical=c.critical,
            minimum=None if c.minimum is None else Count(c.minimum),
            outcome=GateOutcome(c.outcome.value),
        )


@strawberry.type(
    description="A gate's verdict on a release: the numbers over the gate's window (at the "
    "scope's `at`, in the gate's environment and dimension), every check and the rule that "
    "decided (the worst check wins; below the minimum volume: INSUFFICIENT_DATA)."
)
class GateEvaluation:
    gate: HealthGate = strawberry.field(description="The gate that applied.")
    verdict: GateOutcome = strawberry.field(description="The verdict.")
    rule: str = strawberry.field(
        description="The deciding rule in words, e.g. `crash-free sessions 97.5 % is below "
        "the critical level 98 %`."
    )
    decided_by: GateCheck | None = strawberry.field(
        description="The check that decided; null for PASS (every check passed)."
    )
    checks: list[GateCheck] = strawberry.field(
        description="Every check: the two volume minimums, then each rate with a level set."
    )
    scope: ResolvedScope = strawberry.field(description="The window, environment and instant evaluated.")
    sessions: Count = strawberry.field(description="Sessions started in the window.")
    users: Count = strawberry.field(description="Distinct users in the window.")
    crash_free_session_rate: float | None = strawberry.field(
        description="Percent 0..100 of sessions that did not crash; null without sessions."
    )
    crash_free_user_rate: float | None = strawberry.field(
        description="Percent 0..100 of users without a crashed session; null without users."
    )
    adoption: float | None = strawberry.field(
        description="Percent 0..100 of the project's sessions in the 24 hours before `at` that "
        "were the release's (not narrowed by the dimension); null without project sessions."
    )
