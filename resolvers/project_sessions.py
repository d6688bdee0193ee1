"""Started sessions per project over a given range: `get_project_sessions_count` (5.12)
and `get_num_sessions_per_project` (5.13).

Environments are named by *environment records* (`environment` table, numeric ids per
organization, created when an environment is first seen in session data). Sessions
without an environment create no record, so this module maps them as upstream's
metrics do, where a missing environment tag and the empty string are one value: the
record named `""` stands for "no environment" and matches sessions whose environment is
null or `""`. 5.13 drops empty names from its IN filter, so there it matches neither.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from resolvers.granularity import retained_granularity
from resolvers.rollup import checked_rollup
from resolvers.timewindow import widen
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, Cond, Filter, Quantity


def environment_name_filter(name: str | None) -> Filter | None:
    """5.12's filter for one environment name: None → no filter; `""` → sessions without
    an environment (null or `""`); any other name → exactly that environment."""
    if name is None:
        return None
    return Cond("environment", (None, "") if name == "" else (name,))


def environment_names_filter(names: Sequence[str] | None) -> Filter | None:
    """5.13's filter: None or empty → no filter; otherwise the non-empty names form an IN
    filter (no non-empty name left → nothing matches)."""
    if not names:
        return None
    return Cond("environment", tuple(sorted({n for n in names if n})))


def names_by_id(environments: Mapping[str, int]) -> dict[int, str]:
    """Invert `Store.environments` (name -> id)."""
    return {eid: name for name, eid in environments.items()}


async def _started_per_project(
    store: Store,
    project_ids: Sequence[int],
    *,
    start: float,
    end: float,
    rollup: int,
    flt: Filter | None,
    now: float | None,
    retention: Mapping[int, int] | None,
) -> dict[int, int]:
    """`started` per project with counter data in `[start, end]` widened to `rollup`."""
    if not project_ids:
        return {}
    lo, hi = widen(start, end, rollup)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted(set(project_ids))),
            start=lo,
            end=hi,
            granularity=retained_granularity(lo, hi, now=now, retention=retention),
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id",),
            filter=flt,
        )
    )
    return {
        g.project_id: a.counters.started
        for g, a in result.totals.items()
        if g.project_id is not None and a.counters.has_data()
    }


# -- 5.12 get_project_sessions_count ------------------------------------------------------


async def project_sessions_count(
    store: Store,
    org_id: int,
    project_id: int,
    *,
    rollup: int,
    start: float,
    end: float,
    environment_id: int | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> int:
    """`started` of the project over `[start, end]` widened to `rollup` (0 without data).
    `environment_id` names an environment record of `org_id`; an unknown id matches
    nothing."""
    checked_rollup(rollup)
    name: str | None = None
    if environment_id is not None:
        found = names_by_id(await store.environments(org_id)).get(environment_id)
        if found is None:
            return 0
        name = found
    counts = await project_sessions_counts(
        store,
        [project_id],
        rollup=rollup,
        start=start,
        end=end,
        environment=name,
        now=now,
        retention=retention,
    )
    return counts[project_id]


async def project_sessions_counts(
    store: Store,
    project_ids: Sequence[int],
    *,
    rollup: int,
    start: float,
    end: float,
    environment: str | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """5.12 for a batch of projects (one store call), with the environment given by name
    (`environment_name_filter`); every requested project is in the result."""
    checked_rollup(rollup)
    found = await _started_per_project(
        store,
        project_ids,
        start=start,
        end=end,
        rollup=rollup,
        flt=environment_name_filter(environment),
        now=now,
        retention=retention,
    )
    return {p: found.get(p, 0) for p in project_ids}


# -- 5.13 get_num_sessions_per_project ----------------------------------------------------


async def sessions_per_project(
    store: Store,
    org_id: int,
    project_ids: Sequence[int],
    *,
    start: float,
    end: float,
    environment_ids: Sequence[int] | None = None,
    rollup: int | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> list[tuple[int, int]]:
    """`[(project_id, started)]` for the projects with counter data in the window
    (granularity `rollup`, default hourly, widened), sorted by project id. Environment
    records are resolved with one extra statement when `environment_ids` is not empty."""
    names: list[str] | None = None
    if environment_ids:
        by_id = names_by_id(await store.environments(org_id))
        names = [by_id[i] for i in environment_ids if i in by_id]
        if not any(names):
            return []  # an IN filter of no names matches nothing
    return await sessions_per_project_by_name(
        store,
        project_ids,
        start=start,
        end=end,
        environments=names,
        rollup=rollup,
        now=now,
        retention=retention,
    )


async def sessions_per_project_by_name(
    store: Store,
    project_ids: Sequence[int],
    *,
    start: float,
    end: float,
    environments: Sequence[str] | None = None,
    rollup: int | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> list[tuple[int, int]]:
    """5.13 with environments given by name (`environment_names_filter`)."""
    granularity = HOUR if rollup is None else checked_rollup(rollup)
    flt = environment_names_filter(environments)
    if isinstance(flt, Cond) and not flt.values:
        return []
    found = await _started_per_project(
        store,
        project_ids,
        start=start,
        end=end,
        rollup=granularity,
        flt=flt,
        now=now,
        retention=retention,
    )
    return sorted(found.items())
