"""The cost model's per-field knowledge: which fields query the database, and how long
each bounded list is (read from its arguments or its parent). `gql.core.cost` walks a
document with these rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from resolvers.breakdown import release_stats_range
from resolvers.errors import InvalidQuery
from resolvers.rollup import parse_rollup
from resolvers.timewindow import InvalidStatsPeriod, parse_stats_period

#: Extra weight of fields that query the database (once per value, like every weight).
DATABASE_FIELD_WEIGHT = 5
#: Length of the release-stats series when its arguments cannot be read (the field will
#: fail; the bound only has to be safe).
FALLBACK_SERIES = 1
#: Checkpoints of `Release.crashFreeBreakdown` (1, 2, 7, 14 and 30 days).
BREAKDOWN_CHECKPOINTS = 5

#: v1: the fields that query the database.
DATABASE_FIELDS = frozenset(
    {
        "Query.project",
        "Query.releases",
        "Query.hasHealthData",
        "Query.releasesHaveHealthData",
        "Query.oldestHealthData",
        "Query.changedReleaseAdoptions",
        "Query.sessionsPerProject",
        "Query.sessions",
        "Release.project",
        "Release.health",
        "Release.adoption",
        "Release.adoptionStage",
        "Release.sessionTimeBounds",
        "Release.crashFreeBreakdown",
        "Release.stats",
        "SessionStats.adoption",
        "Project.releases",
        "Project.ingestOutcomes",
        "Project.crashFreeRates",
        "Project.sessionsCount",
        "Project.releasesCount",
        "Organization.projects",
        "Organization.environments",
    }
)


@dataclass(frozen=True, slots=True)
class CostLimits:
    """The limits the cost is checked against (from the settings)."""

    max_cost: int = 25_000
    assumed_list_size: int = 50
    #: Data points of one field of the sessions query (the sessions budget).
    max_data_points: int = 10_000


@dataclass(frozen=True, slots=True)
class Sizing:
    """What a field tells the lists below it: the page size of a connection, the length of
    a series."""

    page: int = 0
    series: int = 0
    #: Below a field whose weight already counts its lists (the sessions query).
    counted: bool = False
    #: Seconds of the health scope's window (API v2), for the series below it.
    window: float = 0


#: `(arguments, parent's sizing, limits)` -> (weight multiplier, the field's sizing).
SizeRule = Callable[[Mapping[str, Any], Sizing, CostLimits], tuple[int, Sizing]]


def connection(args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    # The page size bounds the lists below; a health scope's window stays known to them.
    return 1, Sizing(page=max(0, int(args.get("first", 25))), window=parent.window)


def page(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return parent.page, parent


def passing(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return 1, parent


def series(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return parent.series, parent


def _release_stats(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    try:
        rollup = parse_rollup(str(args["interval"]))
        start, end = args["start"], args["end"]
        assert isinstance(start, datetime) and isinstance(end, datetime)
        buckets = release_stats_range(start.timestamp(), end.timestamp(), rollup)[2]
    except (InvalidQuery, KeyError, AssertionError, ValueError, OverflowError):
        buckets = FALLBACK_SERIES
    return 1, Sizing(series=max(0, buckets))


def _health(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    period = args.get("healthStatsPeriod")
    buckets = 0
    if period is not None:
        try:
            buckets = parse_stats_period(str(period)).buckets
        except InvalidStatsPeriod:
            buckets = FALLBACK_SERIES
    return 1, Sizing(series=buckets)


def length_of(name: str) -> SizeRule:
    def rule(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
        value = args.get(name)
        return (len(value) if isinstance(value, list) else 0), Sizing()

    return rule


def constant(n: int) -> SizeRule:
    def rule(_args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
        return n, Sizing()

    return rule


def sessions_budget(_args: Mapping[str, Any], _parent: Sizing, limits: CostLimits) -> tuple[int, Sizing]:
    # The sessions query enforces its own data-point budget (groups x intervals, as the
    # REST endpoint does): it costs that budget, and its groups and series are not
    # multiplied again.
    return limits.max_data_points, Sizing(counted=True)


#: The size of every list field whose length an argument or its parent bounds, and the
#: fields that tell their children (connections, series). Other lists get
#: `assumed_list_size`.
RULES: dict[str, SizeRule] = {
    "Query.releases": connection,
    "Project.releases": connection,
    "ReleaseConnection.nodes": page,
    "ReleaseConnection.edges": page,
    "Release.stats": _release_stats,
    "Release.health": _health,
    "SessionStats.series": passing,
    **{
        f"ReleaseStats.{name}": series
        for name in (
            "intervals",
            "total",
            "healthy",
            "errored",
            "crashed",
            "abnormal",
            "unhandled",
            "durationP50",
            "durationP90",
        )
    },
    "TimeSeries.intervals": series,
    "TimeSeries.values": series,
    "Release.crashFreeBreakdown": constant(BREAKDOWN_CHECKPOINTS),
    "Query.oldestHealthData": length_of("releases"),
    "Query.releasesHaveHealthData": length_of("releases"),
    "Query.sessionsPerProject": length_of("projectIds"),
    "Query.sessions": sessions_budget,
    "Query._entities": length_of("representations"),
}

# Rules whose number is a weight (the field's own cost), not a list length.
WEIGHT_RULES = frozenset({"Query.sessions"})


@dataclass(frozen=True, slots=True)
class CostModel:
    """One schema's per-field knowledge (v1 and v2 name different fields alike)."""

    database_fields: frozenset[str]
    rules: Mapping[str, SizeRule]
    weight_rules: frozenset[str] = WEIGHT_RULES


V1_MODEL = CostModel(DATABASE_FIELDS, RULES)
