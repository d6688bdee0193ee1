"""Resolving a gateway's `_entities` representations (already checked by
`gql.federation.subgraph`) to the records behind them. Another organization's project or
release resolves to nothing, exactly like one that does not exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput
from gql.core.ids import parse_id
from storage.accounts import ProjectInfo
from storage.types import ProjectRelease


def key_field(representation: Mapping[str, Any], name: str, type_name: str) -> str:
    """One key field of an entity representation, as a string (ids may arrive as numbers)."""
    value = representation.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadUserInput(f"A {type_name} representation needs `{name}` (a string)")
    return str(value)


async def project_reference(info: ContextInfo, representation: Mapping[str, Any]) -> ProjectInfo | None:
    project_id = parse_id(key_field(representation, "id", "Project"))
    return await info.context.loaders.project_by_id.load(project_id)


async def release_reference(info: ContextInfo, representation: Mapping[str, Any]) -> ProjectRelease | None:
    """The release's pair when it is the caller's and appeared in session data."""
    project_id = parse_id(key_field(representation, "projectId", "Release"))
    version = key_field(representation, "version", "Release")
    if await info.context.loaders.project_by_id.load(project_id) is None:
        return None
    if not await info.context.loaders.release_seen.load((project_id, version)):
        return None
    return (project_id, version)
