# mypy: disable-error-code="untyped-decorator"
"""Root fields of releases: one by project and version, and a page of several projects'
releases in stability order."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import ReleaseSort
from gql.core.ids import parse_id
from gql.v1.project_resolvers import readable_projects
from gql.v1.release_connection import ReleaseConnection, releases_page
from gql.v1.release_types import Release


@strawberry.field
async def release(info: ContextInfo, project_id: strawberry.ID, version: str) -> Release | None:
    found = await info.context.loaders.project_by_id.load(parse_id(project_id))
    if found is None:
        return None
    return Release(project_id=project_id, version=version)


@strawberry.field(
    description="Releases of several projects ordered by stability "
    "(get_project_releases_by_stability), paginated."
)
async def releases(
    info: ContextInfo,
    project_ids: list[strawberry.ID],
    environments: list[str] | None = None,
    period: str = "24h",
    sort: ReleaseSort = ReleaseSort.SESSIONS,
    first: int = 25,
    after: str | None = None,
    now: datetime | None = None,
) -> ReleaseConnection:
    ids = await readable_projects(info, project_ids)
    return await releases_page(info, ids, environments, period, sort, first, after, now)
