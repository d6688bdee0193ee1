# mypy: disable-error-code="untyped-decorator"
"""The root entry points of API v2: `viewer`, `organization`, `project`, `release`, `node`
and `nodes`. One rule for what does not exist: an id or key that names nothing the caller
may read answers null, never an error; a malformed id is `BAD_USER_INPUT`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import strawberry

from gql.alerts.types import AlertRule
from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput
from gql.core.ids import invalid_id, parse_global_id, parse_id, project_id_of
from gql.core.scope import Scope
from gql.gates.types import HealthGate
from gql.node import Node
from gql.organizations.types import Environment, Organization, OrganizationHealth, Viewer
from gql.projects.health import ProjectHealth
from gql.projects.types import Project
from gql.releases.health import ReleaseHealth
from gql.releases.types import Release, find_release
from gql.webhooks.types import WebhookEndpoint

#: Most ids one `nodes` call takes.
MAX_NODES = 100


async def _project(info: ContextInfo, project_id: int) -> Project | None:
    found = await info.context.loaders.project_by_id.load(project_id)
    return Project.from_info(found) if found else None


def _int(value: Any) -> int:
    """A record id inside a global id, checked as a numeric id is (a forged id never
    reaches the database)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadUserInput("Invalid id: not an id this API issued")
    return parse_id(str(value))


#: How many key parts each type's global id has.
KEY_PARTS = {
    "Organization": 1,
    "OrganizationHealth": 2,
    "Environment": 2,
    "Project": 1,
    "ProjectHealth": 2,
    "Release": 2,
    "ReleaseHealth": 3,
    "HealthGate": 1,
    "AlertRule": 1,
    "WebhookEndpoint": 1,
}


async def resolve_node(info: ContextInfo, id: str) -> Node | None:
    type_name, parts = parse_global_id(id)
    org = info.context.token.org_slug
    malformed = KEY_PARTS.get(type_name) != len(parts) or (
        type_name in ("Release", "ReleaseHealth") and not isinstance(parts[1], str)
    )
    if malformed:
        raise invalid_id(id)
    # A scope is read before anything is looked up: a malformed one is the caller's error
    # even where the object it scopes is gone.
    clock = info.context.now
    if type_name == "Organization":
        return Organization.of(org) if parts == [org] else None
    if type_name == "OrganizationHealth":
        scope = Scope.from_key(parts[1], clock)
        return OrganizationHealth.of(org, scope) if parts[0] == org else None
    if type_name == "Environment":
        found = await info.context.loaders.environments_by_org.load(info.context.org_id)
        ok = parts[0] == org and isinstance(parts[1], str) and parts[1] in found
        return Environment(id=strawberry.ID(id), name=parts[1]) if ok else None
    if type_name == "Project":
        return await _project(info, _int(parts[0]))
    if type_name == "ProjectHealth":
        scope = Scope.from_key(parts[1], clock)
        project = await _project(info, _int(parts[0]))
        return None if project is None else ProjectHealth.of(project.number, scope)
    if type_name == "Release":
        return await find_release(info, _int(parts[0]), parts[1])
    if type_name == "ReleaseHealth":
        scope = Scope.from_key(parts[2], clock)
        release = await find_release(info, _int(parts[0]), parts[1])
        return None if release is None else ReleaseHealth.of(release.pair, scope)
    if type_name == "HealthGate":
        gate = await info.context.loaders.gate_by_id.load(_int(parts[0]))
        return None if gate is None else HealthGate.of(gate)
    if type_name == "AlertRule":
        rule = await info.context.loaders.alert_rule_by_id.load(_int(parts[0]))
        return None if rule is None else AlertRule.of(rule)
    if type_name == "WebhookEndpoint":
        endpoint = await info.context.loaders.webhook_endpoint_by_id.load(_int(parts[0]))
        return None if endpoint is None else WebhookEndpoint.of(endpoint)
    raise invalid_id(id)


@strawberry.field(description="Who is asking: the token's organization and scopes.")
def viewer(info: ContextInfo) -> Viewer:
    token = info.context.token
    return Viewer(organization=Organization.of(token.org_slug), scopes=sorted(token.scopes))


@strawberry.field(description="The caller's organization by slug; null for any other.")
def organization(
    info: ContextInfo, slug: Annotated[str, strawberry.argument(description="The organization's slug.")]
) -> Organization | None:
    return Organization.of(slug) if slug == info.context.token.org_slug else None


@strawberry.field(description="A project by its global id or numeric id; null when the caller has none such.")
async def project(
    info: ContextInfo, id: Annotated[strawberry.ID, strawberry.argument(description="Global or numeric id.")]
) -> Project | None:
    return await _project(info, project_id_of(id))


@strawberry.field(description="A release by project and name; null when it never sent a session.")
async def release(
    info: ContextInfo,
    project: Annotated[strawberry.ID, strawberry.argument(description="The project's global or numeric id.")],
    version: Annotated[str, strawberry.argument(description="The release name.")],
) -> Release | None:
    return await find_release(info, project_id_of(project), version)


@strawberry.field(description="Any object by its global id; null when the caller has none such.")
async def node(
    info: ContextInfo, id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")]
) -> Node | None:
    return await resolve_node(info, id)


@strawberry.field(
    description="Objects by their global ids, in order (at most 100); null for each that is gone."
)
async def nodes(
    info: ContextInfo, ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids.")]
) -> list[Node | None]:
    if len(ids) > MAX_NODES:
        raise BadUserInput(f"`nodes` takes at most {MAX_NODES} ids.")
    # Concurrently, so that the loaders batch: 100 releases are one lookup, not 100.
    return list(await asyncio.gather(*(resolve_node(info, i) for i in ids)))
