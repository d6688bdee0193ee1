"""The loaders of release comparison: every release's counts in a scope and filter (one
sessions query for all the projects of a page), and each project's series catalogue
(one statement for all of them)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gql.core.context import ContextInfo
from gql.core.errors import BadUserInput
from gql.core.scope import Scope
from resolvers.release_comparison import ProjectCounts, Window, counts_by_project
from resolvers.sessions.errors import SessionsQueryError
from storage.types import SeriesInfo


@dataclass(frozen=True, slots=True)
class CountsKey:
    project_id: int
    scope: Scope
    #: The sessions `query` of the dimension filter ("" for none).
    query: str

    def options(self) -> Hashable:
        return (self.scope, self.query)


class ComparisonCountsLoader(DataLoader[CountsKey, ProjectCounts]):
    """Every release's counts per project; the projects asked in one scope and filter are
    one sessions query."""

    def __init__(self, info: ContextInfo) -> None:
        ctx = info.context

        async def load(keys: list[CountsKey]) -> list[ProjectCounts]:
            readable = {p.id: p.slug for p in await ctx.loaders.projects_by_org.load(ctx.org_id)}
            found: dict[CountsKey, ProjectCounts] = {}
            for options in dict.fromkeys(k.options() for k in keys):
                asked = [k for k in keys if k.options() == options]
                scope, query = asked[0].scope, asked[0].query
                environments = scope.environments
                if environments is not None:
                    # an environment that never sent a session counts zero instead of failing
                    known = await ctx.loaders.environments_by_org.load(ctx.org_id)
                    environments = tuple(e for e in environments if e in known)
                projects = {k.project_id: readable[k.project_id] for k in asked if k.project_id in readable}
                try:
                    counts = await counts_by_project(
                        ctx.store,
                        org_id=ctx.org_id,
                        projects=projects,
                        window=Window(scope.start, scope.end, scope.at, environments),
                        query=query,
                        now=ctx.now,
                        options=ctx.options,
                    )
                except SessionsQueryError as exc:
                    raise BadUserInput(exc.message) from None
                for k in asked:
                    found[k] = counts.get(k.project_id, ProjectCounts())
            return [found[k] for k in keys]

        super().__init__(load_fn=load)  # type: ignore[arg-type]


class SeriesByProjectLoader(DataLoader[int, list[SeriesInfo]]):
    """Each project's (release, environment) series with when they were first seen."""

    def __init__(self, info: ContextInfo) -> None:
        store = info.context.store

        async def load(project_ids: Sequence[int]) -> list[list[SeriesInfo]]:
            found: dict[int, list[SeriesInfo]] = {p: [] for p in project_ids}
            for s in await store.series(list(project_ids)):
                found[s.project_id].append(s)
            return [found[p] for p in project_ids]

        super().__init__(load_fn=load)


@dataclass(slots=True)
class ComparisonLoaders:
    counts: ComparisonCountsLoader
    series: SeriesByProjectLoader


def comparison_loaders(info: ContextInfo) -> ComparisonLoaders:
    """The request's comparison loaders, made on first use (they need the request's info)."""
    loaders = info.context.loaders
    if loaders.comparison is None:
        loaders.comparison = ComparisonLoaders(ComparisonCountsLoader(info), SeriesByProjectLoader(info))
    return loaders.comparison
