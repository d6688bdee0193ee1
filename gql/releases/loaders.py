"""Loaders of a project's releases: their stability ranking and how many there are."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gql.core.batching import ProjectKeyWithOptions, grouped_loader
from resolvers import health
from resolvers.options import QueryOptions
from storage.protocol import Store
from storage.types import ProjectRelease


@dataclass(frozen=True, slots=True)
class ReleasesCountKey(ProjectKeyWithOptions):
    project_id: int
    scope: str
    period: str
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.scope, self.period, self.environments, self.now)


#: A project's releases ordered by stability (the page is cut by the field): the same
#: question as their count, so the same key.
ProjectReleasesKey = ReleasesCountKey


class ReleasesCountByProjectLoader(DataLoader[ReleasesCountKey, int | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(project_ids: list[int], k: ReleasesCountKey) -> dict[int, int]:
            return await health.releases_count_per_project(
                store,
                project_ids,
                now=k.now,
                scope=k.scope,
                stats_period_name=k.period,
                environments=k.environments,
                retention=options.retention,
            )

        super().__init__(load_fn=grouped_loader(fetch))


class ProjectReleasesByProjectLoader(DataLoader[ProjectReleasesKey, list[ProjectRelease] | None]):
    """Every project's releases in stability order from one ranking of all the projects
    asked: restricted to one project, the ranking's order is that project's own (its ties
    break by release within the project)."""

    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(project_ids: list[int], k: ProjectReleasesKey) -> dict[int, list[ProjectRelease]]:
            ordered, _ = await health.releases_by_stability(
                store,
                project_ids,
                now=k.now,
                scope=k.scope,
                stats_period_name=k.period,
                environments=k.environments,
                retention=options.retention,
            )
            found: dict[int, list[ProjectRelease]] = {p: [] for p in project_ids}
            for pair in ordered:
                found[pair[0]].append(pair)
            return found

        super().__init__(load_fn=grouped_loader(fetch))


class FirstSeenByProjectLoader(DataLoader[int, dict[str, int]]):
    """Each release of a project that sent sessions, and when it was first seen (unix
    seconds; 0 when unknown): one statement for every project of a request."""

    def __init__(self, store: Store) -> None:
        async def load(project_ids: Sequence[int]) -> list[dict[str, int]]:
            found: dict[int, dict[str, int]] = {p: {} for p in project_ids}
            for s in await store.series(list(project_ids)):
                seen = s.first_seen if s.first_seen is not None else 0
                releases = found[s.project_id]
                releases[s.release] = min(releases.get(s.release, seen), seen)
            return [found[p] for p in project_ids]

        super().__init__(load_fn=load)
