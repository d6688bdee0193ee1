# mypy: disable-error-code="untyped-decorator"
"""`Project` (API v2): a project's identity, a federation entity; its numbers are on
`ProjectHealth`, reached through `health(scope:)`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gql.alerts.types import AlertRule
from gql.core.connection import DEFAULT_PAGE, Connection, page_of, page_window
from gql.core.context import ContextInfo
from gql.core.enums import ItemType, OutcomeKind
from gql.core.ids import as_id, global_id, project_id_of
from gql.core.scalars import Count
from gql.core.scope import HealthScope, Scope, TimeRange
from gql.federation.entities import key_field
from gql.gates.types import HealthGate
from gql.node import Node
from gql.projects.health import ProjectHealth
from gql.projects.loaders import OutcomesKey
from gql.releases.types import Release, find_release
from storage.accounts import ProjectInfo

if TYPE_CHECKING:
    from gql.organizations.types import Organization

_PAGE = Annotated[int, strawberry.argument(description="Page size, at most 100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


@strawberry.type(description="How many items ingest accepted, dropped or normalized, by reason.")
class IngestOutcome:
    hour: datetime | None = strawberry.field(description="The hour bucket; null in totals.")
    item_type: ItemType = strawberry.field(description="What was counted.")
    kind: OutcomeKind = strawberry.field(description="What ingest did.")
    reason: str | None = strawberry.field(description="Why it was dropped or normalized; null when accepted.")
    count: Count = strawberry.field(description="How many.")


@strawberry.federation.type(
    keys=["id", "projectId"],
    description="A project of the organization. Identity only; its numbers are on `health(scope:)`.",
)
class Project(Node):
    project_id: strawberry.ID = strawberry.field(description="The numeric id (as in DSNs and Sentry's APIs).")
    slug: str = strawberry.field(description="The project's slug.")
    org_slug: strawberry.Private[str]

    @classmethod
    def from_info(cls, p: ProjectInfo) -> Project:
        return cls(id=global_id("Project", p.id), project_id=as_id(p.id), slug=p.slug, org_slug=p.org_slug)

    @classmethod
    async def resolve_reference(cls, info: ContextInfo, **representation: Any) -> Project | None:
        """A gateway's representation by `id` or `projectId`; another organization's
        project is null."""
        name = "id" if "id" in representation else "projectId"
        found = await info.context.loaders.project_by_id.load(
            project_id_of(key_field(representation, name, "Project"))
        )
        return cls.from_info(found) if found else None

    @property
    def number(self) -> int:
        return int(self.project_id)

    @strawberry.field(description="The organization.")
    def organization(self) -> Annotated[Organization, strawberry.lazy("gql.organizations.types")]:
        from gql.organizations.types import Organization

        return Organization.of(self.org_slug)

    @strawberry.field(description="A release by its name; null when it never sent a session.")
    async def release(
        self, info: ContextInfo, version: Annotated[str, strawberry.argument(description="The release name.")]
    ) -> Release | None:
        return await find_release(info, self.number, version)

    @strawberry.field(description="The releases that sent sessions, most recently first seen first.")
    async def releases(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[Release]:
        offset, limit = page_window(first, after)
        first_seen = await info.context.loaders.first_seen_by_project.load(self.number)
        ordered = sorted(first_seen, key=lambda r: (-first_seen[r], r))
        page = [Release.of(self.number, r) for r in ordered[offset : offset + limit]]
        return Connection.of(page, offset, len(ordered))

    @strawberry.field(
        description="The project's health gates: the all-environments gate first, then by environment."
    )
    async def health_gates(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[HealthGate]:
        found = await info.context.loaders.gates_by_project.load(self.number)
        return page_of([HealthGate.of(g) for g in found], first, after)

    @strawberry.field(description="The project's alert rules, oldest first.")
    async def alert_rules(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[AlertRule]:
        found = await info.context.loaders.alert_rules_by_project.load(self.number)
        return page_of([AlertRule.of(r) for r in found], first, after)

    @strawberry.field(description="The project's numbers in a scope.")
    def health(
        self,
        info: ContextInfo,
        scope: Annotated[HealthScope, strawberry.argument(description="Window, environments and `at`.")],
    ) -> ProjectHealth:
        return ProjectHealth.of(self.number, Scope.of(scope, info.context.now))

    @strawberry.field(
        description="What ingest did with this project's items in a range (all kept data "
        "without one): totals by item type, kind and reason, or the same per hour, oldest first."
    )
    async def ingest_outcomes(
        self,
        info: ContextInfo,
        range: Annotated[TimeRange | None, strawberry.argument(description="Only these hours.")] = None,
        hourly: Annotated[bool, strawberry.argument(description="Per hour instead of totals.")] = False,
        first: _PAGE = DEFAULT_PAGE,
        after: _AFTER = None,
    ) -> Connection[IngestOutcome]:
        key = OutcomesKey(
            self.number,
            None if range is None else int(range.start.timestamp()),
            None if range is None else int(range.end.timestamp()),
        )
        rows = await info.context.loaders.ingest_outcomes.load(key) or []
        counts: dict[tuple[int | None, str, str, str], int] = {}
        for _, hour, item, kind, reason, n in rows:
            k = (hour if hourly else None, item, kind, reason)
            counts[k] = counts.get(k, 0) + n
        outcomes = [
            IngestOutcome(
                hour=None if h is None else datetime.fromtimestamp(h, UTC),
                item_type=ItemType(t),
                kind=OutcomeKind(k),
                reason=r or None,
                count=Count(n),
            )
            for (h, t, k, r), n in sorted(counts.items(), key=lambda kv: (kv[0][0] or 0, *kv[0][1:]))
        ]
        return page_of(outcomes, first, after)
