"""Adoption stages of releases from the store (release-health.md section 6.2).

The stage is a pure function (`resolvers.adoption_stage`) of the hourly `started` counts
of every release of one (project, environment) up to `now`. This module fetches those
counts for a whole batch in one store call and evaluates each (project, environment)
once, whatever the number of releases asked about.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from resolvers.adoption_stage import (
    NEVER_ADOPTED,
    AdoptionStage,
    adoption_stages,
    has_stage_environment,
    is_valid_version,
)
from resolvers.granularity import check_retained
from resolvers.options import QueryOptions
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, Cond, Quantity

#: `(project id, release, environment)`.
ReleaseEnvironment = tuple[int, str, str]


async def release_adoption_stages(
    store: Store,
    keys: Sequence[ReleaseEnvironment],
    *,
    now: float,
    options: QueryOptions | None = None,
) -> dict[ReleaseEnvironment, AdoptionStage]:
    """The stage at `now` of each `(project, release, environment)`.

    Threshold and window come from `options` (defaults 10 % and 6 h). Only `started`
    sessions count. Hourly buckets are read: the share at an instant `t` is over the
    buckets starting in `[t − window, t)`, evaluated at every hour boundary up to `now` and
    at `now`. Keys without a stage (null or empty environment, invalid release version)
    are absent from the result; a valid release without sessions there is `low_adoption`.
    Raises `RetentionExceeded` when the window before `now` is deleted (judged as
    `options.retention` says: at the later of `now` and its clock).
    """
    opts = options or QueryOptions()
    wanted = [k for k in keys if has_stage_environment(k[2]) and is_valid_version(k[1])]
    if not wanted:
        return {}
    # The stage at `now` is decided by the window before it: gone buckets would make every
    # release look replaced (the rest of the history only dates adoptions).
    window_start = int((now - opts.adoption_window) // HOUR) * HOUR
    check_retained(HOUR, window_start, now=now, retention=opts.retention)
    environments = tuple(sorted({e for _, _, e in wanted}))
    # Buckets that start before `now`: every window `[t − W, t)` with `t <= now` lies in
    # `[0, ceil(now))` on the hour grid.
    end = -int(-now // HOUR) * HOUR
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted({p for p, _, _ in wanted})),
            start=0,
            end=end,
            granularity=HOUR,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "release", "environment"),
            filter=Cond("environment", environments),
            interval=HOUR,
        )
    )
    # (project, environment) -> release -> bucket start -> started
    started: dict[tuple[int, str], dict[str, dict[int, int]]] = defaultdict(dict)
    for group, buckets in result.series.items():
        if group.project_id is None or group.release is None or not group.environment:
            continue
        started[(group.project_id, group.environment)][group.release] = {
            t: agg.counters.started for t, agg in buckets.items() if agg.counters.started
        }
    stages: dict[tuple[int, str], dict[str, AdoptionStage]] = {}
    out: dict[ReleaseEnvironment, AdoptionStage] = {}
    for key in wanted:
        project_id, release, environment = key
        scope = (project_id, environment)
        if scope not in stages:
            stages[scope] = adoption_stages(
                started.get(scope, {}),
                now,
                threshold=opts.adoption_threshold,
                window=opts.adoption_window,
            )
        out[key] = stages[scope].get(release, NEVER_ADOPTED)
    return out
