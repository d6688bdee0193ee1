"""Loaders of projects: by id (the access check of every project-scoped field), their
ingest outcomes, and whether they have recent session data."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gql.core.batching import ProjectKeyWithOptions, grouped_loader
from resolvers import health
from resolvers.options import QueryOptions
from storage.accounts import AccountStore, ProjectInfo
from storage.protocol import Store


class ProjectByIdLoader(DataLoader[int, ProjectInfo | None]):
    """Projects of the caller's organization; other orgs' projects load as None, exactly
    like projects that do not exist."""

    def __init__(self, accounts: AccountStore, org_id: int) -> None:
        async def load(ids: Sequence[int]) -> list[ProjectInfo | None]:
            found = await accounts.projects(ids)
            return [p if (p := found.get(i)) and p.org_id == org_id else None for i in ids]

        super().__init__(load_fn=load)


@dataclass(frozen=True, slots=True)
class OutcomesKey(ProjectKeyWithOptions):
    project_id: int
    start: int | None
    end: int | None

    def options(self) -> Hashable:
        return (self.start, self.end)


OutcomeRow = tuple[int, int, str, str, str, int]


class OutcomesByProjectLoader(DataLoader[OutcomesKey, list[OutcomeRow] | None]):
    def __init__(self, store: Store) -> None:
        async def fetch(project_ids: list[int], k: OutcomesKey) -> dict[int, list[OutcomeRow]]:
            found: dict[int, list[OutcomeRow]] = {p: [] for p in project_ids}
            for row in await store.outcomes(project_ids, k.start, k.end):
                found[row[0]].append(row)
            return found

        super().__init__(load_fn=grouped_loader(fetch))


@dataclass(frozen=True, slots=True)
class RecentDataKey(ProjectKeyWithOptions):
    """Whether a project has session data in the 90 days before `now`, in `environments`."""

    project_id: int
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.environments, self.now)


class RecentDataByProjectLoader(DataLoader[RecentDataKey, bool | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(project_ids: list[int], k: RecentDataKey) -> dict[int, bool]:
            found = await health.projects_with_health_data(
                store, project_ids, now=k.now, environments=k.environments, retention=options.retention
            )
            return {p: p in found for p in project_ids}

        super().__init__(load_fn=grouped_loader(fetch))
