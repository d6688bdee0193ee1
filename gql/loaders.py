"""Dataloaders, built per request. Each batch makes one resolver call per distinct set of
options (for a page of releases asked the same question: exactly one), so the number of
SQL statements does not grow with the number of releases.

A key carries its target (a `(project, release)` pair, a project id, ...) and the
options of the question; `InvalidQuery` raised for one option group fails only the keys
of that group (the fields turn it into `BAD_USER_INPUT`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from resolvers import bounds, crash_free, health, project_sessions, release_stats, stages
from resolvers.adoption_stage import AdoptionStage
from resolvers.errors import InvalidQuery
from resolvers.options import QueryOptions
from resolvers.timetext import to_datetime
from storage.accounts import AccountStore, ProjectInfo
from storage.protocol import Store
from storage.types import ProjectRelease

K = TypeVar("K", bound="KeyWithOptions")
V = TypeVar("V")


class KeyWithOptions:
    pair: ProjectRelease

    def target(self) -> Hashable:
        """What the resolver is asked about; the result mapping is keyed by it."""
        return self.pair

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
        return (self.environments, self.summary_period, self.health_stats_period, self.stat, self.now)


@dataclass(frozen=True, slots=True)
class AdoptionKey(KeyWithOptions):
    pair: ProjectRelease
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.environments, self.now)


@dataclass(frozen=True, slots=True)
class AdoptionStageKey(KeyWithOptions):
    pair: ProjectRelease
    environment: str
    now: float

    def target(self) -> Hashable:
        return (*self.pair, self.environment)

    def options(self) -> Hashable:
        return self.now


@dataclass(frozen=True, slots=True)
class TimeBoundsKey(KeyWithOptions):
    pair: ProjectRelease
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.environments, self.now)


@dataclass(frozen=True, slots=True)
class BreakdownKey(KeyWithOptions):
    pair: ProjectRelease
    start: float
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.start, self.environments, self.now)


@dataclass(frozen=True, slots=True)
class ReleaseStatsKey(KeyWithOptions):
    pair: ProjectRelease
    stat: str
    rollup: int
    start: float
    end: float
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.stat, self.rollup, self.start, self.end, self.environments, self.now)


class ProjectKeyWithOptions(KeyWithOptions):
    project_id: int

    def target(self) -> Hashable:
        return self.project_id


@dataclass(frozen=True, slots=True)
class CrashFreeRatesKey(ProjectKeyWithOptions):
    project_id: int
    current: tuple[float, float]
    previous: tuple[float, float]
    rollup: int
    now: float

    def options(self) -> Hashable:
        return (self.current, self.previous, self.rollup, self.now)


@dataclass(frozen=True, slots=True)
class SessionsCountKey(ProjectKeyWithOptions):
    project_id: int
    start: float
    end: float
    environment: str | None
    rollup: int
    now: float

    def options(self) -> Hashable:
        return (self.start, self.end, self.environment, self.rollup, self.now)


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


@dataclass(frozen=True, slots=True)
class OutcomesKey(ProjectKeyWithOptions):
    project_id: int
    start: int | None
    end: int | None

    def options(self) -> Hashable:
        return (self.start, self.end)


OutcomeRow = tuple[int, int, str, str, str, int]


def _grouped_loader(
    fetch: Callable[[list[Any], Any], Awaitable[Mapping[Any, V]]],
) -> Callable[[Sequence[K]], Awaitable[list[V | BaseException | None]]]:
    """A batch function that groups keys by their options and calls `fetch` once per group
    with the group's distinct targets (and one key of the group, for its options)."""

    async def load(keys: Sequence[K]) -> list[V | BaseException | None]:
        groups: dict[Hashable, list[K]] = defaultdict(list)
        for key in keys:
            groups[key.options()].append(key)
        found: dict[K, V | BaseException | None] = {}
        for members in groups.values():
            targets = list(dict.fromkeys(k.target() for k in members))
            try:
                values = await fetch(targets, members[0])
            except InvalidQuery as exc:
                for k in members:
                    found[k] = exc
                continue
            for k in members:
                found[k] = values.get(k.target())
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
    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: HealthKey
        ) -> dict[ProjectRelease, health.ReleaseOverview]:
            return await health.release_overview(
                store,
                org_id,
                pairs,
                now=k.now,
                environments=k.environments,
                summary_period=k.summary_period,
                health_stats_period=k.health_stats_period,
                stat=k.stat,
                with_adoption=False,  # SessionStats.adoption uses its own loader
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class ReleaseAdoptionByReleaseLoader(DataLoader[AdoptionKey, health.ReleaseAdoption | None]):
    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: AdoptionKey
        ) -> dict[ProjectRelease, health.ReleaseAdoption]:
            return await health.release_adoption(
                store,
                org_id,
                pairs,
                now=k.now,
                environments=k.environments,
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class AdoptionStageByReleaseLoader(DataLoader[AdoptionStageKey, AdoptionStage | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            targets: list[stages.ReleaseEnvironment], k: AdoptionStageKey
        ) -> dict[stages.ReleaseEnvironment, AdoptionStage]:
            return await stages.release_adoption_stages(store, targets, now=k.now, options=options)

        super().__init__(load_fn=_grouped_loader(fetch))


class SessionTimeBoundsByReleaseLoader(DataLoader[TimeBoundsKey, bounds.SessionTimeBounds | None]):
    def __init__(self, store: Store) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: TimeBoundsKey
        ) -> dict[ProjectRelease, bounds.SessionTimeBounds]:
            return await bounds.session_time_bounds(store, pairs, now=k.now, environments=k.environments)

        super().__init__(load_fn=_grouped_loader(fetch))


class CrashFreeBreakdownByReleaseLoader(
    DataLoader[BreakdownKey, list[crash_free.CrashFreeCheckpoint] | None]
):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: BreakdownKey
        ) -> dict[ProjectRelease, list[crash_free.CrashFreeCheckpoint]]:
            return await crash_free.crash_free_breakdown(
                store,
                pairs,
                start=to_datetime(k.start),
                now=to_datetime(k.now),
                environments=k.environments,
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class ReleaseStatsByReleaseLoader(DataLoader[ReleaseStatsKey, release_stats.ReleaseStats | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(
            pairs: list[ProjectRelease], k: ReleaseStatsKey
        ) -> dict[ProjectRelease, release_stats.ReleaseStats]:
            return await release_stats.release_stats(
                store,
                pairs,
                stat=k.stat,
                rollup=k.rollup,
                start=k.start,
                end=k.end,
                environments=k.environments,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class CrashFreeRatesByProjectLoader(DataLoader[CrashFreeRatesKey, crash_free.CrashFreeRates | None]):
    """Keys are projects of the caller's organization (the fields load them first)."""

    def __init__(self, store: Store, options: QueryOptions, org_id: int) -> None:
        async def fetch(project_ids: list[int], k: CrashFreeRatesKey) -> dict[int, crash_free.CrashFreeRates]:
            return await crash_free.current_and_previous_crash_free_rates(
                store,
                dict.fromkeys(project_ids, org_id),
                project_ids,
                current_start=k.current[0],
                current_end=k.current[1],
                previous_start=k.previous[0],
                previous_end=k.previous[1],
                rollup=k.rollup,
                org_id=org_id,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


class SessionsCountByProjectLoader(DataLoader[SessionsCountKey, int | None]):
    def __init__(self, store: Store, options: QueryOptions) -> None:
        async def fetch(project_ids: list[int], k: SessionsCountKey) -> dict[int, int]:
            return await project_sessions.project_sessions_counts(
                store,
                project_ids,
                rollup=k.rollup,
                start=k.start,
                end=k.end,
                environment=k.environment,
                now=k.now,
                retention=options.retention,
            )

        super().__init__(load_fn=_grouped_loader(fetch))


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

        super().__init__(load_fn=_grouped_loader(fetch))


#: Most (project, release) pairs looked up by one statement.
RELEASE_SEEN_BATCH = 1000


class ReleaseSeenLoader(DataLoader[ProjectRelease, bool]):
    """Whether a (project, release) ever appeared in session data: one statement for any
    number of pairs (federation resolves `Release` references through it). Callers check
    the project belongs to the caller's organization first."""

    def __init__(self, store: Store) -> None:
        async def load(pairs: Sequence[ProjectRelease]) -> list[bool]:
            seen = await store.series([p for p, _ in pairs], releases=[r for _, r in pairs])
            found = {(s.project_id, s.release) for s in seen}
            return [pair in found for pair in pairs]

        # Bounded batches keep the IN lists within every driver's parameter limit (SQLite
        # and asyncpg allow about 32k) however many references a gateway sends.
        super().__init__(load_fn=load, max_batch_size=RELEASE_SEEN_BATCH)


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

        super().__init__(load_fn=_grouped_loader(fetch))


class OutcomesByProjectLoader(DataLoader[OutcomesKey, list[OutcomeRow] | None]):
    def __init__(self, store: Store) -> None:
        async def fetch(project_ids: list[int], k: OutcomesKey) -> dict[int, list[OutcomeRow]]:
            found: dict[int, list[OutcomeRow]] = {p: [] for p in project_ids}
            for row in await store.outcomes(project_ids, k.start, k.end):
                found[row[0]].append(row)
            return found

        super().__init__(load_fn=_grouped_loader(fetch))


class ProjectsByOrgLoader(DataLoader[int, list[ProjectInfo]]):
    def __init__(self, accounts: AccountStore) -> None:
        async def load(org_ids: Sequence[int]) -> list[list[ProjectInfo]]:
            return [await accounts.projects_of_org(org) for org in org_ids]

        super().__init__(load_fn=load)


class EnvironmentsByOrgLoader(DataLoader[int, dict[str, int]]):
    """Environment records (name -> id) of an organization, read once per request."""

    def __init__(self, store: Store) -> None:
        async def load(org_ids: Sequence[int]) -> list[dict[str, int]]:
            return [await store.environments(org) for org in org_ids]

        super().__init__(load_fn=load)


class Loaders:
    """Every loader of one request."""

    def __init__(
        self,
        store: Store,
        accounts: AccountStore,
        options: QueryOptions,
        org_id: int,
    ) -> None:
        self.project_by_id = ProjectByIdLoader(accounts, org_id)
        self.release_health = ReleaseHealthByReleaseLoader(store, options, org_id)
        self.release_adoption = ReleaseAdoptionByReleaseLoader(store, options, org_id)
        self.adoption_stage = AdoptionStageByReleaseLoader(store, options)
        self.session_time_bounds = SessionTimeBoundsByReleaseLoader(store)
        self.crash_free_breakdown = CrashFreeBreakdownByReleaseLoader(store, options)
        self.release_stats = ReleaseStatsByReleaseLoader(store, options)
        self.crash_free_rates = CrashFreeRatesByProjectLoader(store, options, org_id)
        self.sessions_count = SessionsCountByProjectLoader(store, options)
        self.releases_count = ReleasesCountByProjectLoader(store, options)
        self.environments_by_org = EnvironmentsByOrgLoader(store)
        self.release_seen = ReleaseSeenLoader(store)
        self.project_releases = ProjectReleasesByProjectLoader(store, options)
        self.ingest_outcomes = OutcomesByProjectLoader(store)
        self.projects_by_org = ProjectsByOrgLoader(accounts)
