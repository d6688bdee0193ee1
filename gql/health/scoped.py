"""API v2 numbers that Sentry defines through its sessions query (a project's totals, the
split by a client dimension, release-version groups): answered by the typed sessions core
(`resolvers.sessions`), the service the REST endpoint uses, so they equal what
`/api/0/organizations/{org}/sessions/` answers for the same scope."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from strawberry.dataloader import DataLoader

from gql.core.context import Context, ContextInfo
from gql.core.errors import BadUserInput
from gql.core.scope import Scope
from resolvers.sessions.errors import SessionsQueryError
from resolvers.sessions.request import SearchFilter, SessionsRequest
from resolvers.sessions.result import SessionsGroup
from resolvers.sessions.service import sessions_query
from resolvers.sessions.time_range import DateRange

SESSIONS, USERS = "sum(session)", "count_unique(user)"
CRASH_FREE_SESSIONS, CRASH_FREE_USERS = "crash_free_rate(session)", "crash_free_rate(user)"
FIELDS = (SESSIONS, USERS, CRASH_FREE_SESSIONS, CRASH_FREE_USERS)
#: Totals only: one bucket per hour keeps every window and dimension valid (client
#: dimensions need intervals of an hour or more).
INTERVAL = 3600
#: The most groups one question returns (the sessions query's own page limit).
MAX_GROUPS = 5000


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals of one group: sessions started and distinct users (0 without data), and
    crash-free rates in percent 0..100 (None without sessions, or users)."""

    sessions: int
    users: int
    crash_free_session_rate: float | None
    crash_free_user_rate: float | None

    @classmethod
    def of(cls, group: SessionsGroup | None) -> Summary:
        totals = group.totals if group is not None and group.totals is not None else {}

        def count(field: str) -> int:
            value = totals.get(field)
            return int(value) if isinstance(value, int | float) else 0

        def percent(field: str) -> float | None:
            value = totals.get(field)
            return None if not isinstance(value, int | float) else float(value) * 100

        return cls(count(SESSIONS), count(USERS), percent(CRASH_FREE_SESSIONS), percent(CRASH_FREE_USERS))


EMPTY = Summary(0, 0, None, None)


def quoted(value: str) -> str:
    """A search-filter value, quoted and escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def grouped(
    info: ContextInfo,
    scope: Scope,
    project_ids: list[int],
    group_by: tuple[str, ...],
    release: str | None = None,
    where: str = "",
) -> list[SessionsGroup]:
    """The groups of the scope's sessions in `project_ids` (of one release, if given, and
    matching the search filter `where`)."""
    return await grouped_in(info.context, scope, project_ids, group_by, release, where)


async def grouped_in(
    ctx: Context,
    scope: Scope,
    project_ids: list[int],
    group_by: tuple[str, ...],
    release: str | None = None,
    where: str = "",
) -> list[SessionsGroup]:
    """`grouped` with the context alone: the change detector (`jobs/changes.py`) asks it
    outside any GraphQL request."""
    readable = {p.id: p.slug for p in await ctx.loaders.projects_by_org.load(ctx.org_id)}
    projects = {p: readable[p] for p in project_ids if p in readable}
    environments: tuple[str, ...] = ()
    if scope.environments is not None:
        known = await ctx.loaders.environments_by_org.load(ctx.org_id)
        environments = tuple(e for e in scope.environments if e in known)
        if not environments:  # only environments without sessions: nothing to count
            return []
    if not projects:
        return []
    request = SessionsRequest(
        fields=FIELDS,
        now=datetime.fromtimestamp(scope.at, UTC),
        group_by=group_by,
        time_range=DateRange(
            datetime.fromtimestamp(scope.start, UTC), datetime.fromtimestamp(scope.end, UTC)
        ),
        interval=INTERVAL,
        environments=environments,
        projects=tuple(projects),
        filter=SearchFilter.parse(
            " ".join(([] if release is None else [f"release:{quoted(release)}"]) + [where])
        ),
        order_by=(f"-{SESSIONS}",) if group_by else (),
        per_page=MAX_GROUPS if group_by else None,
        include_series=False,
    )
    try:
        result = await sessions_query(
            ctx.store, org_id=ctx.org_id, projects=projects, request=request, now=ctx.now, options=ctx.options
        )
    except SessionsQueryError as exc:
        raise BadUserInput(exc.message) from None
    return list(result.groups)


@dataclass(frozen=True, slots=True)
class ProjectScopeKey:
    project_id: int
    scope: Scope

    def options(self) -> Hashable:
        return self.scope


class ProjectSummaryLoader(DataLoader[ProjectScopeKey, Summary]):
    """A project's totals in a scope; the projects of a page asked in one scope are one
    sessions query grouped by project."""

    def __init__(self, info: ContextInfo) -> None:
        async def load(keys: list[ProjectScopeKey]) -> list[Summary]:
            found: dict[ProjectScopeKey, Summary] = {}
            for scope in dict.fromkeys(k.scope for k in keys):
                ids = list(dict.fromkeys(k.project_id for k in keys if k.scope == scope))
                groups = await grouped(info, scope, ids, ("project",))
                by_project = {g.by.get("project"): Summary.of(g) for g in groups}
                for pid in ids:
                    found[ProjectScopeKey(pid, scope)] = by_project.get(pid, EMPTY)
            return [found[k] for k in keys]

        super().__init__(load_fn=load)  # type: ignore[arg-type]


def summary_loader(info: ContextInfo) -> ProjectSummaryLoader:
    """The request's `ProjectSummaryLoader`, made on first use."""
    loaders = info.context.loaders
    if loaders.project_summary is None:
        loaders.project_summary = ProjectSummaryLoader(info)
    return loaders.project_summary
