"""Gate verdict and adoption-stage changes (issue 10 section 4, docs/alerts.md): the
producers of `gate.verdict_changed` and `adoption.stage_changed` health events.

`detect_changes` runs once a minute inside the evaluator lock (`AlertTask.run_once`, after
the rules), for that minute only: a verdict or a stage is a state at an instant, not a
window that could be missed, so a stopped server does not replay the minutes it missed;
its first pass compares the state now with the last one recorded.

- **Gate verdicts.** Every health gate, for each release of its project with sessions in
  the gate's window and environment, judged at `at` by `gql.gates.evaluate.decide`: the
  code of `ReleaseHealth.gate` and `relhealth gate`, so an event never disagrees with them.
- **Adoption stages.** Every (project, environment, release) with sessions in the last 24 h
  (or the stage window, if longer), plus every release recorded as adopted, staged at
  `at` by `resolvers.stages.release_adoption_stages`: the code of
  `ReleaseHealth.adoptionStage`. A release outside that set has no sessions in the stage
  window, so it cannot be adopted, and its stage (`replaced` or `low_adoption`) can no
  longer change: it is not evaluated, and no event is sent for it (not a change to null:
  the API keeps answering that stage).

A change from the recorded state (none for a release seen the first time) is written with
its event in one transaction (`storage.changes`). Reads are batched: a pass costs the same
statements for 2 releases as for 200; only the changes themselves add statements.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.core.context import Context
from gql.core.enums import Period
from gql.core.scope import Scope
from gql.gates.evaluate import Decision, decide
from resolvers import health, stages
from resolvers.adoption_stage import has_stage_environment, is_valid_version
from resolvers.options import QueryOptions
from resolvers.timetext import format_iso
from resolvers.timewindow import widen
from storage import changes, events, gates
from storage.accounts import AccountStore, TokenInfo
from storage.models import PROJECT
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, Quantity

log = logging.getLogger(__name__)

DAY = 86400
GATE_EVENT = events.GATE_VERDICT_CHANGED
STAGE_EVENT = events.ADOPTION_STAGE_CHANGED

#: (project id, environment or None, release) -> start of its latest hourly bucket.
Activity = dict[tuple[int, str | None, str], int]


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: its event's type and payload. `before` is None for the first
    verdict or stage recorded for the release."""

    event_type: str
    project_id: int
    release: str
    before: str | None
    after: str
    at: int
    payload: dict[str, Any]


async def detect_changes(engine: AsyncEngine, store: Store, options: QueryOptions, at: int) -> list[Change]:
    """Evaluate every gate verdict and adoption stage at the minute `at`, and commit and
    publish those that changed. One failing half (a window beyond retention) does not stop
    the other; its changes are found at the next pass."""
    at = int(at)
    projects = await _projects(engine)
    if not projects:
        return []
    every_gate = await gates.every(engine)
    since = min([at - _stage_lookback(options)] + [_scope(g, at).start for g in every_gate])
    activity = await _activity(store, sorted(projects), since, at)
    found: list[Change] = []
    for name, step in (
        ("gate verdicts", _gate_changes(engine, store, options, every_gate, activity, at)),
        ("adoption stages", _stage_changes(engine, store, options, projects, activity, at)),
    ):
        try:
            found.extend(await step)
        except Exception:
            log.exception("change detection of %s failed; retried at the next pass", name)
    return found


# -- gate verdicts ---------------------------------------------------------------------------


def _scope(gate: gates.Gate, at: int) -> Scope:
    """The gate's window ending at `at`, as `decide` computes it."""
    environments = None if gate.rule.environment is None else (gate.rule.environment,)
    return Scope.of_period(Period[gate.rule.time_window], environments, None, 0, at)


def _gate_releases(gate: gates.Gate, activity: Activity, at: int) -> list[str]:
    """Releases of the gate's project with sessions in its window and environment."""
    first = widen(_scope(gate, at).start, at, HOUR)[0]
    env = gate.rule.environment
    return sorted(
        {
            release
            for (project, environment, release), latest in activity.items()
            if project == gate.project_id and latest >= first and env in (None, environment)
        }
    )


async def _gate_changes(
    engine: AsyncEngine,
    store: Store,
    options: QueryOptions,
    every_gate: Sequence[gates.Gate],
    activity: Activity,
    at: int,
) -> list[Change]:
    targets = [(g, r) for g in every_gate for r in _gate_releases(g, activity, at)]
    if not targets:
        return []
    by_org: dict[int, list[tuple[gates.Gate, str]]] = defaultdict(list)
    for gate, release in targets:
        by_org[gate.org_id].append((gate, release))
    accounts = AccountStore(engine)
    decided: list[tuple[gates.Gate, str, Decision]] = []
    for org_id, pairs in by_org.items():
        ctx = Context(store, accounts, options, TokenInfo(org_id, "", frozenset({"org:read"})), now=at)
        # One gather per organization: the context's loaders batch every release of it.
        asked = [decide(ctx, (g.project_id, r), at, g.rule.environment) for g, r in pairs]
        results = await asyncio.gather(*asked, return_exceptions=True)
        for (gate, release), result in zip(pairs, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("gate %s, release %r: no verdict at %s: %s", gate.id, release, at, result)
            elif result is not None and result.gate.id == gate.id:
                decided.append((gate, release, result))
    recorded = await changes.gate_states(engine, {g.id for g, _ in targets})
    found = []
    for gate, release, d in decided:
        previous = recorded.get((gate.id, release))
        verdict = d.verdict.outcome.name
        if previous is not None and previous.value == verdict:
            continue
        change = _gate_change(gate, release, None if previous is None else previous.value, d, at)
        event = changes.Event(
            gate.org_id,
            gate.project_id,
            GATE_EVENT,
            f"gate:{gate.id}:{release}:{at}:{verdict}",
            change.payload,
            at,
        )
        numbers = change.payload["numbers"]
        if await changes.record_gate(engine, (gate.id, release), previous, verdict, numbers, event):
            found.append(change)
    return found


def _gate_change(gate: gates.Gate, release: str, before: str | None, d: Decision, at: int) -> Change:
    n = d.numbers
    after = d.verdict.outcome.name
    payload = {
        "gate": {"id": gate.id, "environment": gate.rule.environment},
        "projectId": gate.project_id,
        "environment": gate.rule.environment,
        "release": release,
        "from": before,
        "to": after,
        "at": format_iso(at),
        "numbers": {
            "sessions": n.sessions,
            "users": n.users,
            "crashFreeSessionRate": n.crash_free_sessions,
            "crashFreeUserRate": n.crash_free_users,
            "adoption": n.adoption,
        },
        "rule": d.verdict.rule,
    }
    return Change(GATE_EVENT, gate.project_id, release, before, after, at, payload)


# -- adoption stages -------------------------------------------------------------------------


def _stage_lookback(options: QueryOptions) -> int:
    """Sessions this recent make a release's stage worth evaluating: 24 h, or the stage
    window if longer (a release without sessions in the window cannot be adopted)."""
    return max(DAY, options.adoption_window)


async def _stage_changes(
    engine: AsyncEngine,
    store: Store,
    options: QueryOptions,
    projects: Mapping[int, int],
    activity: Activity,
    at: int,
) -> list[Change]:
    first = widen(at - _stage_lookback(options), at, HOUR)[0]
    recorded = await changes.stage_states(engine, projects)
    keys = {
        (project, environment, release)
        for (project, environment, release), latest in activity.items()
        if latest >= first and environment is not None
    }
    # An adopted release whose sessions stopped altogether is still due its `replaced`.
    keys |= {k for k, state in recorded.items() if state.value == "ADOPTED"}
    wanted = sorted(k for k in keys if has_stage_environment(k[1]) and is_valid_version(k[2]))
    if not wanted:
        return []
    staged = await stages.release_adoption_stages(
        store, [(p, r, e) for p, e, r in wanted], now=at, options=options.at(at)
    )
    moved = []
    for project, environment, release in wanted:
        stage = staged.get((project, release, environment))
        if stage is None:
            continue
        previous = recorded.get((project, environment, release))
        after = stage.stage.upper()
        if previous is None or previous.value != after:
            moved.append((project, environment, release, None if previous is None else previous.value, after))
    if not moved:
        return []
    rates = await _adoption_rates(store, options, projects, [(p, e, r) for p, e, r, _, _ in moved], at)
    found = []
    for project, environment, release, before, after in moved:
        session_rate, user_rate = rates.get((project, environment, release), (None, None))
        payload = {
            "projectId": project,
            "environment": environment,
            "release": release,
            "from": before,
            "to": after,
            "at": format_iso(at),
            "adoption": {"sessionRate": session_rate, "userRate": user_rate},
        }
        # Environment and release are quoted: either may hold a colon.
        where = json.dumps([environment, release], ensure_ascii=False)
        event = changes.Event(
            projects[project], project, STAGE_EVENT, f"adoption:{project}:{where}:{at}:{after}", payload, at
        )
        previous = recorded.get((project, environment, release))
        if await changes.record_stage(engine, (project, environment, release), previous, after, event):
            found.append(Change(STAGE_EVENT, project, release, before, after, at, payload))
    return found


async def _adoption_rates(
    store: Store,
    options: QueryOptions,
    projects: Mapping[int, int],
    keys: Sequence[changes.StageKey],
    at: int,
) -> dict[changes.StageKey, tuple[float | None, float | None]]:
    """The 24-hour session and user adoption (`ReleaseHealth.adoption`) of the releases
    whose stage changed, one batch per organization and environment."""
    groups: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for project, environment, release in keys:
        groups[(projects[project], environment)].append((project, release))
    found: dict[changes.StageKey, tuple[float | None, float | None]] = {}
    for (org_id, environment), pairs in groups.items():
        try:
            adoption = await health.release_adoption(
                store,
                org_id,
                pairs,
                now=at,
                environments=(environment,),
                retention=options.at(at).retention,
            )
        except Exception:
            # The rates only describe the change; the stage itself was computed.
            log.exception("adoption of %d releases in %r: not computed", len(pairs), environment)
            continue
        for (project, release), a in adoption.items():
            found[(project, environment, release)] = (a.sessions_adoption, a.adoption)
    return found


# -- shared reads ----------------------------------------------------------------------------


async def _projects(engine: AsyncEngine) -> dict[int, int]:
    """Every project and its organization, in one statement."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(PROJECT.c.id, PROJECT.c.org_id))).all()
    return {int(r.id): int(r.org_id) for r in rows}


async def _activity(store: Store, project_ids: list[int], since: float, at: int) -> Activity:
    """The latest hourly bucket with sessions of every (project, environment, release)
    since `since`, in one statement."""
    start, end = widen(since, at, HOUR)
    bounds = await store.bucket_bounds(
        AggregateQuery(
            project_ids=tuple(project_ids),
            start=start,
            end=end,
            granularity=HOUR,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "environment", "release"),
        )
    )
    return {
        (g.project_id, g.environment, g.release): hi
        for g, (_, hi) in bounds.items()
        if g.project_id is not None and g.release is not None
    }
