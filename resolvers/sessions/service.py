"""The sessions query as one call: load what the definition depends on (environments,
known releases, release stages) from the store, validate, execute.

Shared by the REST endpoint and GraphQL (each builds the `SessionsRequest`), so both
answer the same numbers for the same question.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from resolvers.adoption_stage import adoption_stages
from resolvers.options import QueryOptions
from resolvers.sessions.define import define
from resolvers.sessions.definition import SessionsQueryContext
from resolvers.sessions.executor import execute_sessions_query
from resolvers.sessions.release_filter import latest_releases
from resolvers.sessions.request import SessionsRequest
from resolvers.sessions.result import SessionsQueryResult
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, Cond, Quantity


async def sessions_query(
    store: Store,
    *,
    org_id: int,
    projects: Mapping[int, str],
    request: SessionsRequest,
    now: float,
    options: QueryOptions,
) -> SessionsQueryResult:
    """Raises `SessionsQueryError` (with Sentry's message and HTTP status) for bad input.

    `now` is the server clock; what depends on time (release stages, the latest release)
    is evaluated at the request's `now`, like every number."""
    options = options.at(now)  # retention is judged against the later of `now` and the clock
    query_text = request.filter.text
    environments = set((await store.environments(org_id)).keys())
    requested_environments = set(request.environments)
    at = request.now.timestamp()

    releases: dict[int, set[str]] = defaultdict(set)
    first_seen: dict[int, dict[str, int]] = defaultdict(dict)
    if "release" in query_text:
        for info in await store.series(list(projects)):
            releases[info.project_id].add(info.release)
            if info.first_seen is None or (
                requested_environments and info.environment not in requested_environments
            ):
                continue
            seen = first_seen[info.project_id]
            seen[info.release] = min(seen.get(info.release, info.first_seen), info.first_seen)

    stages: dict[str, dict[str, str]] = {}
    if "release.stage" in query_text:
        for env in requested_environments:
            stages[env] = await _stages(store, list(projects), env, at, options)

    def known_releases(project_ids: tuple[int, ...]) -> Collection[str]:
        return set().union(*(releases.get(p, set()) for p in project_ids)) if project_ids else set()

    def release_stages(project_ids: tuple[int, ...], environment: str) -> Mapping[str, str]:
        return stages.get(environment, {})

    def latest(project_ids: tuple[int, ...]) -> Collection[str]:
        return latest_releases({p: first_seen[p] for p in project_ids if p in first_seen}, at)

    context = SessionsQueryContext(
        now=datetime.fromtimestamp(now, UTC),
        projects=projects,
        environments=environments,
        releases=known_releases,
        release_stages=release_stages,
        latest_releases=latest,
        budget=options.max_data_points,
        retention=options.retention,
    )
    return await execute_sessions_query(store, define(request, context))


# A release adopted in any of the requested projects counts as adopted; replaced beats
# low adoption, so a release is never reported less adopted than it is somewhere.
_STAGE_RANK = {"adopted": 2, "replaced": 1, "low_adoption": 0}


async def _stages(
    store: Store,
    project_ids: list[int],
    environment: str,
    now: float,
    options: QueryOptions,
) -> dict[str, str]:
    """Release -> adoption stage at `now` in one environment (release-health.md 6.2)."""
    if not project_ids or not environment:
        return {}
    end = (int(now) // HOUR + 1) * HOUR
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(project_ids),
            start=0,
            end=end,
            granularity=HOUR,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "release"),
            filter=Cond("environment", (environment,)),
            interval=HOUR,
        )
    )
    per_project: dict[int, dict[str, dict[int, int]]] = defaultdict(dict)
    for group, buckets in result.series.items():
        assert group.project_id is not None and group.release is not None
        per_project[group.project_id][group.release] = {
            t: a.counters.started for t, a in buckets.items() if t < now
        }
    merged: dict[str, str] = {}
    for started in per_project.values():
        for release, stage in adoption_stages(
            started, now, threshold=options.adoption_threshold, window=options.adoption_window
        ).items():
            current = merged.get(release)
            if current is None or _STAGE_RANK[stage.stage] > _STAGE_RANK[current]:
                merged[release] = stage.stage
    return merged
