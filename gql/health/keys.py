"""Loader keys of the release-health numbers: the target (a release, a release in one
environment, a project) and the options of the question (`gql.core.batching`)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from gql.core.batching import KeyWithOptions, ProjectKeyWithOptions
from storage.types import ProjectRelease


@dataclass(frozen=True, slots=True)
class HealthKey(KeyWithOptions):
    pair: ProjectRelease
    environments: tuple[str, ...] | None
    summary_period: str
    health_stats_period: str | None
    stat: str
    now: float
    #: Unix seconds `[start, end]` replacing the summary period's window (v2 range scopes).
    window: tuple[float, float] | None = None

    def options(self) -> Hashable:
        return (
            self.environments,
            self.summary_period,
            self.health_stats_period,
            self.stat,
            self.now,
            self.window,
        )


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
class AdoptionSeriesKey(KeyWithOptions):
    pair: ProjectRelease
    stat: str
    rollup: int
    start: float
    end: float
    environments: tuple[str, ...] | None
    now: float

    def options(self) -> Hashable:
        return (self.stat, self.rollup, self.start, self.end, self.environments, self.now)
