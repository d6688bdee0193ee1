# mypy: disable-error-code="untyped-decorator"
"""The root field of organizations."""

from __future__ import annotations

import strawberry

from gql.core.context import ContextInfo
from gql.v1.organization_types import Organization


@strawberry.field(description="The caller's organization by slug; null for any other.")
def organization(info: ContextInfo, slug: str) -> Organization | None:
    if slug != info.context.token.org_slug:
        return None
    return Organization(slug=slug)
