"""Crash-free percentages over windows: the release breakdown (5.6) and the current and
previous rates of projects (5.14). Both use `crash_free_rate * 100`, i.e.
`(1 − crashed / total) * 100` (section 3.6), clamped, null when the total is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from resolvers import formulas
from resolvers.breakdown import crash_free_breakdown_checkpoints
from resolvers.filters import pair_key, pairs_filter
from resolvers.granularity import choose_granularity, retained_granularity, stored_granularity
from resolvers.orgs import check_organization
from resolvers.rollup import checked_rollup
from resolvers.timewindow import widen
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, GroupKey, ProjectRelease, Quantity

# -- 5.6 get_crash_free_breakdown --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrashFreeCheckpoint:
    """One cumulative breakdown entry over `[start, date)`, widened to hours."""

    date: datetime
    total_sessions: int
    total_users: int
    crash_free_sessions: float | None  # percent 0..100; None when total_sessions is 0
    crash_free_users: float | None  # percent 0..100; None when total_users is 0


async def crash_free_breakdown(
    store: Store,
    pairs: Sequence[ProjectRelease],
    *,
    start: datetime,
    now: datetime,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
) -> dict[ProjectRelease, list[CrashFreeCheckpoint]]:
    """`get_crash_free_breakdown` for each pair (section 5.6).

    Checkpoints `start + {1, 2, 7, 14, 30} d` up to `now`, then possibly `now` itself
    (`resolvers.breakdown`). Each entry counts `[start, date)` widened to whole hours; one
    store call per checkpoint (at most five), whatever the number of pairs. Every pair gets
    the same dates, with zeros and nulls where it has no data. With `retention`, a `start`
    whose buckets are deleted raises `RetentionExceeded`.
    """
    checkpoints = crash_free_breakdown_checkpoints(start, now)
    result: dict[ProjectRelease, list[CrashFreeCheckpoint]] = {pair: [] for pair in pairs}
    if not pairs:
        return result
    project_ids = tuple(sorted({p for p, _ in pairs}))
    flt = pairs_filter([r for _, r in pairs], environments)
    for date, _ in checkpoints:
        lo, hi = widen(start.timestamp(), date.timestamp(), HOUR)
        totals = await store.aggregate(
            AggregateQuery(
                project_ids=project_ids,
                start=lo,
                end=hi,
                granularity=(
                    stored_granularity(lo, hi, finest=HOUR)
                    if retention is None
                    else choose_granularity(lo, hi, now=now.timestamp(), retention=retention)
                ),
                quantities=frozenset({Quantity.COUNTERS, Quantity.USERS, Quantity.USER_STATUSES}),
                group_by=("project_id", "release"),
                filter=flt,
            )
        )
        found = {pair_key(g): a for g, a in totals.totals.items()}
        for pair in pairs:
            agg = found.get(pair)
            sessions = agg.counters.started if agg else 0
            users = agg.users.all if agg else 0
            result[pair].append(
                CrashFreeCheckpoint(
                    date=date,
                    total_sessions=sessions,
                    total_users=users,
                    crash_free_sessions=formulas.crash_free_percentage(
                        agg.counters.crashed if agg else 0, sessions
                    ),
                    crash_free_users=formulas.crash_free_percentage(agg.users.crashed if agg else 0, users),
                )
            )
    return result


# -- 5.14 get_current_and_previous_crash_free_rates ----------------------------------------


@dataclass(frozen=True, slots=True)
class CrashFreeRates:
    """Percent 0..100 per window; None for a project without started sessions there."""

    current: float | None
    previous: float | None


async def current_and_previous_crash_free_rates(
    store: Store,
    project_orgs: Mapping[int, int],
    project_ids: Sequence[int],
    *,
    current_start: float,
    current_end: float,
    previous_start: float,
    previous_end: float,
    rollup: int,
    org_id: int | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> dict[int, CrashFreeRates]:
    """`get_current_and_previous_crash_free_rates` (section 5.14) for every requested
    project; each window is widened to `rollup`. `project_orgs` (project id -> org id) is
    used for the organization checks. `now` and `retention` only decide whether
    sub-hour rollups may read minute buckets (4.4); without them minute buckets are used.
    """
    check_organization(project_orgs, project_ids, org_id)
    checked_rollup(rollup)
    ids = tuple(sorted(set(project_ids)))
    rates: dict[int, list[float | None]] = {p: [None, None] for p in ids}
    if ids:
        windows = ((current_start, current_end), (previous_start, previous_end))
        for index, (start, end) in enumerate(windows):
            lo, hi = widen(start, end, rollup)
            granularity = retained_granularity(lo, hi, now=now, retention=retention)
            totals = await store.aggregate(
                AggregateQuery(
                    project_ids=ids,
                    start=lo,
                    end=hi,
                    granularity=granularity,
                    quantities=frozenset({Quantity.COUNTERS}),
                    group_by=("project_id",),
                )
            )
            for p in ids:
                agg = totals.totals.get(GroupKey(project_id=p))
                if agg is not None:
                    rates[p][index] = formulas.crash_free_percentage(
                        agg.counters.crashed, agg.counters.started
                    )
    return {p: CrashFreeRates(current, previous) for p, (current, previous) in rates.items()}
