"""What `Project`'s fields do, and which project ids a caller may read. The fields in
`gql.v1.project_types` only pass their arguments here."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import ReleaseSort
from gql.core.errors import BadUserInput, user_errors
from gql.core.ids import parse_id
from gql.core.scalars import Count
from gql.core.scope import env_tuple, reference_time
from gql.health.keys import CrashFreeRatesKey, SessionsCountKey
from gql.health.results import CrashFreeRates, TimeRangeInput
from gql.projects.loaders import OutcomeRow, OutcomesKey
from gql.releases.loaders import ReleasesCountKey
from gql.v1.release_types import ProjectReleaseInput
from resolvers.rollup import checked_rollup
from storage.types import ProjectRelease

#: An outcome count: (hour or None for totals, item type, kind, reason, count).
OutcomeCount = tuple[float | None, str, str, str, int]


async def readable_projects(info: ContextInfo, ids: list[strawberry.ID]) -> list[int]:
    """Project ids of the caller's organization; others are silently absent, as if they
    did not exist."""
    parsed = [parse_id(i) for i in ids]
    found = await info.context.loaders.project_by_id.load_many(parsed)
    return [p.id for p in found if p is not None]


async def readable_pairs(info: ContextInfo, releases: list[ProjectReleaseInput]) -> list[ProjectRelease]:
    """The pairs whose project is the caller's; others are silently absent."""
    readable = set(await readable_projects(info, [r.project_id for r in releases]))
    pairs = [(parse_id(r.project_id), r.version) for r in releases]
    return [p for p in pairs if p[0] in readable]


async def ingest_outcomes(
    info: ContextInfo, project_id: int, start: datetime | None, end: datetime | None, hourly: bool
) -> list[OutcomeCount]:
    """Outcome counts per hour, or (not `hourly`) totals over the range sorted by kind."""
    key = OutcomesKey(
        project_id,
        None if start is None else int(start.timestamp()),
        None if end is None else int(end.timestamp()),
    )
    rows: list[OutcomeRow] = await info.context.loaders.ingest_outcomes.load(key) or []
    if hourly:
        return [(h, t, k, r, n) for _, h, t, k, r, n in rows]
    totals: dict[tuple[str, str, str], int] = {}
    for _, _, t, k, r, n in rows:
        totals[(t, k, r)] = totals.get((t, k, r), 0) + n
    return [(None, t, k, r, n) for (t, k, r), n in sorted(totals.items())]


async def crash_free_rates(
    info: ContextInfo,
    project_id: int,
    windows: tuple[TimeRangeInput, TimeRangeInput],
    rollup: int,
    now: datetime | None,
) -> CrashFreeRates:
    current, previous = windows
    key = CrashFreeRatesKey(
        project_id,
        (current.start.timestamp(), current.end.timestamp()),
        (previous.start.timestamp(), previous.end.timestamp()),
        rollup,
        reference_time(info, now),
    )
    with user_errors():
        found = await info.context.loaders.crash_free_rates.load(key)
    assert found is not None
    return CrashFreeRates.from_result(found)


async def sessions_count(
    info: ContextInfo,
    project_id: int,
    window: tuple[datetime, datetime],
    environment: tuple[str | None, strawberry.ID | None],
    rollup: int,
    now: datetime | None,
) -> Count:
    """`environment` is (name, record id), at most one given."""
    name, environment_id = environment
    if name is not None and environment_id is not None:
        raise BadUserInput("Pass either environment or environmentId, not both")
    if environment_id is not None:
        wanted = parse_id(environment_id, "environment")
        records = await info.context.loaders.environments_by_org.load(info.context.org_id)
        names = [n for n, eid in records.items() if eid == wanted]
        if not names:
            with user_errors():
                checked_rollup(rollup)
            return Count(0)
        name = names[0]
    start, end = window
    key = SessionsCountKey(
        project_id, start.timestamp(), end.timestamp(), name, rollup, reference_time(info, now)
    )
    with user_errors():
        found = await info.context.loaders.sessions_count.load(key)
    return Count(found or 0)


async def releases_count(
    info: ContextInfo,
    project_id: int,
    scope: ReleaseSort,
    period: str,
    environments: list[str] | None,
    now: datetime | None,
) -> int:
    key = ReleasesCountKey(
        project_id, scope.value, period, env_tuple(environments), reference_time(info, now)
    )
    with user_errors():
        found = await info.context.loaders.releases_count.load(key)
    return found or 0
