"""Pages of groups (client dimensions, release versions) in a scope, from the sessions core
(`gql.health.scoped`)."""

from __future__ import annotations

from gql.core.connection import Connection, page_window
from gql.core.context import ContextInfo
from gql.core.scope import Scope
from gql.health.scoped import Summary, grouped
from gql.health.types import GroupHealth


async def dimension_page(
    info: ContextInfo,
    scope: Scope,
    project_ids: list[int],
    group_by: str,
    first: int,
    after: str | None,
    release: str | None = None,
) -> Connection[GroupHealth]:
    """The groups of `group_by` (a sessions-query groupBy such as `os.name` or
    `release.version`), most sessions first, then by value."""
    offset, limit = page_window(first, after)
    groups = await grouped(info, scope, project_ids, (group_by,), release)
    rows = sorted(
        (GroupHealth.of(g.by.get(group_by), Summary.of(g)) for g in groups),
        key=lambda row: (-int(row.sessions), row.value is None, row.value or ""),
    )
    return Connection.of(rows[offset : offset + limit], offset, len(rows))
