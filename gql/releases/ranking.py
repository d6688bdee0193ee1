"""Releases in stability order, for a page: one project's from its batched loader (a
project listed below a list asks once per request), several projects' from one ranking."""

from __future__ import annotations

from gql.core.context import ContextInfo
from gql.core.enums import ReleaseSort
from gql.core.errors import BadUserInput
from gql.core.scope import env_tuple
from gql.releases.loaders import ProjectReleasesKey
from resolvers import health
from resolvers.errors import InvalidQuery
from storage.types import ProjectRelease


async def ranked_releases(
    info: ContextInfo,
    project_ids: list[int],
    environments: list[str] | None,
    period: str,
    sort: ReleaseSort,
    window: tuple[int, int],
    at: float,
    *,
    per_project: bool,
) -> tuple[list[ProjectRelease], int]:
    """The releases at `window` = (offset, limit) of the ranking, and how many it has."""
    offset, limit = window
    try:
        if per_project:
            ordered = await info.context.loaders.project_releases.load(
                ProjectReleasesKey(
                    project_ids[0],
                    sort.value,
                    period,
                    env_tuple(environments),
                    at,
                )
            )
            return (ordered or [])[offset : offset + limit], len(ordered or [])
        return await health.releases_by_stability(
            info.context.store,
            project_ids,
            now=at,
            scope=sort.value,
            stats_period_name=period,
            environments=environments,
            offset=offset,
            limit=limit,
            retention=info.context.options.retention,
        )
    except InvalidQuery as exc:
        raise BadUserInput(exc.message) from None
