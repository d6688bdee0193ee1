"""`ReleaseConnection`: a page of releases in stability order, as `Query.releases` and
`Project.releases` answer it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import ReleaseSort
from gql.core.errors import BadUserInput
from gql.core.ids import as_id
from gql.core.pagination import PageInfo, encode_cursor, page_offset
from gql.core.scope import reference_time
from gql.releases.ranking import ranked_releases
from gql.v1.release_types import Release

#: The largest page `first` may ask for.
MAX_PAGE = 500


@strawberry.type
class ReleaseEdge:
    cursor: str
    node: Release


@strawberry.type(description="A page of releases ordered by stability.")
class ReleaseConnection:
    edges: list[ReleaseEdge]
    nodes: list[Release]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Releases considered by the ordering.")


async def releases_page(
    info: ContextInfo,
    project_ids: list[int],
    environments: list[str] | None,
    period: str,
    sort: ReleaseSort,
    first: int,
    after: str | None,
    now: datetime | None,
    *,
    per_project: bool = False,
) -> ReleaseConnection:
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE}")
    offset = page_offset(after)
    at = reference_time(info, now)
    pairs, total = await ranked_releases(
        info, project_ids, environments, period, sort, (offset, first), at, per_project=per_project
    )
    edges = [
        ReleaseEdge(
            cursor=encode_cursor(offset + i), node=Release(project_id=as_id(p), version=r, inherited_now=at)
        )
        for i, (p, r) in enumerate(pairs)
    ]
    return ReleaseConnection(
        edges=edges,
        nodes=[e.node for e in edges],
        page_info=PageInfo.of(offset, [e.cursor for e in edges], total),
        total_count=total,
    )
