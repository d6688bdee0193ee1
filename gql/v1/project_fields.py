# mypy: disable-error-code="untyped-decorator"
"""The root field of projects."""

from __future__ import annotations

import strawberry

from gql.core.context import ContextInfo
from gql.core.ids import parse_id
from gql.v1.project_types import Project


@strawberry.field
async def project(info: ContextInfo, id: strawberry.ID) -> Project | None:
    found = await info.context.loaders.project_by_id.load(parse_id(id))
    return Project.from_info(found) if found else None
