"""`ReleaseHealth.gate`: the matching gate's verdict on a release, from batched loaders (a
page of releases asking the same gate costs the same statements as one release). The
change detector (`jobs/changes.py`) calls `decide` too, so its `gate.verdict_changed`
events never disagree with the API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gql.core.context import Context, ContextInfo
from gql.core.enums import Period
from gql.core.errors import user_errors
from gql.core.scalars import Count
from gql.core.scope import ResolvedScope, Scope
from gql.gates.dimension import DimensionKey, dimension_loader
from gql.gates.types import GateCheck, GateEvaluation, GateOutcome, HealthGate
from gql.health.keys import AdoptionKey, HealthKey
from gql.health.scoped import Summary
from resolvers import gates as rules
from storage.gates import Gate, GateRule, matching
from storage.types import ProjectRelease


def levels_of(r: GateRule) -> rules.GateLevels:
    return rules.GateLevels(
        crash_free_sessions=rules.Levels(r.crash_free_sessions_target, r.crash_free_sessions_critical),
        crash_free_users=rules.Levels(r.crash_free_users_target, r.crash_free_users_critical),
        adoption=rules.Levels(r.adoption_target, r.adoption_critical),
        min_sessions=r.min_sessions,
        min_users=r.min_users,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """A gate's verdict on one release, with the scope and numbers it was made on."""

    gate: Gate
    scope: Scope
    numbers: rules.Numbers
    verdict: rules.Verdict


async def _summary(ctx: Context, gate: Gate, pair: ProjectRelease, scope: Scope) -> Summary:
    r = gate.rule
    if r.dimension is not None and r.dimension_value is not None:
        return await dimension_loader(ctx).load(DimensionKey(pair, scope, r.dimension, r.dimension_value))
    assert scope.period is not None
    key = HealthKey(
        pair=pair,
        environments=scope.environments,
        summary_period=scope.period.value,
        health_stats_period=None,
        stat="sessions",
        now=scope.at,
    )
    with user_errors():
        o = await ctx.loaders.release_health.load(key)
    assert o is not None
    return Summary(o.total_sessions or 0, o.total_users or 0, o.crash_free_sessions, o.crash_free_users)


async def _adoption(ctx: Context, pair: ProjectRelease, scope: Scope) -> float | None:
    with user_errors():
        found = await ctx.loaders.release_adoption.load(AdoptionKey(pair, scope.environments, scope.at))
    return None if found is None else found.sessions_adoption


async def decide(ctx: Context, pair: ProjectRelease, at: float, environment: str | None) -> Decision | None:
    """The verdict of the gate for `environment` (the project's gate naming it, else its
    all-environments gate), computed in that environment (all of them for None) over the
    gate's window ending at `at`; None when the project has neither gate. The one code
    path of `ReleaseHealth.gate`, `relhealth gate` and the change detector
    (`jobs/changes.py`): batched by the context's loaders, so a page of releases asking
    the same gate costs the same statements as one."""
    gate = matching(await ctx.loaders.gates_by_project.load(pair[0]), environment)
    if gate is None:
        return None
    environments = None if environment is None else (environment,)
    scope = Scope.of_period(Period[gate.rule.time_window], environments, None, 0, at)
    summary, adoption = await asyncio.gather(_summary(ctx, gate, pair, scope), _adoption(ctx, pair, scope))
    numbers = rules.Numbers(
        sessions=summary.sessions,
        users=summary.users,
        crash_free_sessions=summary.crash_free_session_rate,
        crash_free_users=summary.crash_free_user_rate,
        adoption=adoption,
    )
    return Decision(gate, scope, numbers, rules.evaluate(levels_of(gate.rule), numbers))


async def evaluate_gate(
    info: ContextInfo, pair: ProjectRelease, at: float, environment: str | None
) -> GateEvaluation | None:
    """`ReleaseHealth.gate`: `decide` as GraphQL types."""
    found = await decide(info.context, pair, at, environment)
    if found is None:
        return None
    verdict, n = found.verdict, found.numbers
    return GateEvaluation(
        gate=HealthGate.of(found.gate),
        verdict=GateOutcome(verdict.outcome.value),
        rule=verdict.rule,
        decided_by=None if verdict.deciding is None else GateCheck.of(verdict.deciding),
        checks=[GateCheck.of(c) for c in verdict.checks],
        scope=ResolvedScope.of(found.scope),
        sessions=Count(n.sessions),
        users=Count(n.users),
        crash_free_session_rate=n.crash_free_sessions,
        crash_free_user_rate=n.crash_free_users,
        adoption=n.adoption,
    )
