"""Dataloaders, built per request. Each batch makes one resolver call per distinct set of
options (for a page of releases asked the same question: exactly one), so the number of
SQL statements does not grow with the number of releases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from resolvers import health
from resolvers.options import QueryOptions
from storage.accounts import AccountStore, ProjectInfo
from storage.store import SessionStore
from storage.types import ProjectRelease

K = TypeVar("K", bound="KeyWithOptions")
V = TypeVar("V")


class KeyWithOptions:
    pair: ProjectRelease

    def options(self) -> Hashable:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class HealthKey(KeyWithOptions):
    pair: ProjectRelease
    environments: tuple[str, ...] | None
    summary_period: str
    health_stats_period: str | None
    stat: str
    now: float

    def options(self) -> Hashable:
        return (self.environments, self.summary_period, self.health_stats_period,
                self.stat, self.now)


@dataclass(frozen=True, slots=True)
class AdoptionKey(KeyWithOptions):
    pair: ProjectRelease
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.environments, self.now)


def _grouped_loader(
    fetch: Callable[[list[ProjectRelease], Any], Awaitable[dict[ProjectRelease, V]]],
) -> Callable[[Sequence[K]], Awaitable[list[V | None]]]:
    """A batch function that groups keys by their options and calls `fetch` once per group
    with the group's pairs."""

    async def load(keys: Sequence[K]) -> list[V | None]:
        groups: dict[Hashable, list[K]] = defaultdict(list)
        for key in keys:
            groups[key.options()].append(key)
        found: dict[K, V | None] = {}
        for members in groups.values():
            pairs = list(dict.fromkeys(k.pair for k in members))
            values = await fetch(pairs, members[0])
            for k in members:
                found[k] = values.get(k.pair)
        return [found[k] for k in keys]

    return load


class ProjectByIdLoader(DataLoader[int, ProjectInfo | None]):
    """Projects of the caller's organization; other orgs' projects load as None, exactly
    like projects that do not exist."""

    def __init__(self, accounts: AccountStore, org_id: int) -> None:
        async def load(ids: Sequence[int]) -> list[ProjectInfo | None]:
            found = await accounts.projects(ids)
            return [p if (p := found.get(i)) and p.org_id == org_id else None for i in ids]

        super().__init__(load_fn=load)


class ReleaseHealthByReleaseLoader(DataLoader[HealthKey, health.ReleaseOverview | None]):
    def __init__(self, store: SessionStore, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: HealthKey
        ) -> dict[ProjectRelease, health.ReleaseOverview]:
            return await health.release_overview(
                store, org_id, pairs, now=k.now, environments=k.environments,
                summary_period=k.summary_period, health_stats_period=k.health_stats_period,
                stat=k.stat,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class ReleaseAdoptionByReleaseLoader(DataLoader[AdoptionKey, health.ReleaseAdoption | None]):
    def __init__(self, store: SessionStore, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: AdoptionKey
        ) -> dict[ProjectRelease, health.ReleaseAdoption]:
            return await health.release_adoption(
                store, org_id, pairs, now=k.now, environments=k.environments
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class Loaders:
    """Every loader of one request."""

    def __init__(
        self, store: SessionStore, accounts: AccountStore, options: QueryOptions, org_id: int
    ) -> None:
        self.project_by_id = ProjectByIdLoader(accounts, org_id)
        self.release_health = ReleaseHealthByReleaseLoader(store, org_id)
        self.release_adoption = ReleaseAdoptionByReleaseLoader(store, org_id)
