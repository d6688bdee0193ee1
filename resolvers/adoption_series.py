"""A release's adoption over time (the dashboard's adoption chart): per bucket, the
release's share of its project's sessions (or distinct users), in percent, in the scope's
environments. Buckets are those of `get_project_release_stats` (`release_stats`), so an
adoption series lines up with the release's `series` of the same interval.

A bucket where the project has no sessions (users) has no share: None, not 0. Distinct
users are sketch estimates, so a release's estimate can exceed its project's by the
estimate's error: rates are clamped to 100.

Two store calls per batch, whatever the number of releases: the releases' series grouped
by (project, release), and their projects' series grouped by project."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resolvers.breakdown import release_stats_range
from resolvers.errors import InvalidQuery
from resolvers.filters import environment_filter, pair_key, pairs_filter
from resolvers.granularity import retained_granularity
from resolvers.release_stats import STATS
from resolvers.rollup import check_bucket_count, checked_rollup
from storage.protocol import Store
from storage.types import Aggregate, AggregateQuery, Dimension, ProjectRelease, Quantity


@dataclass(frozen=True, slots=True)
class AdoptionSeries:
    stat: str
    #: Bucket starts, unix seconds.
    intervals: list[int]
    #: Percent 0..100 per bucket; None where the project had no sessions (users).
    rate: list[float | None]


def _count(agg: Aggregate | None, stat: str) -> int:
    if agg is None:
        return 0
    return agg.counters.started if stat == "sessions" else agg.users.all


def share(part: int, whole: int) -> float | None:
    if whole <= 0:
        return None
    return min(100.0, 100.0 * part / whole)


async def adoption_series(
    store: Store,
    pairs: Sequence[ProjectRelease],
    *,
    stat: str,
    rollup: int,
    start: float,
    end: float,
    environments: Sequence[str] | None = None,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> dict[ProjectRelease, AdoptionSeries]:
    if stat not in STATS:
        raise InvalidQuery(f"Invalid stat: {stat}")
    checked_rollup(rollup)
    lo, hi, count = release_stats_range(start, end, rollup)
    check_bucket_count(count)
    if not pairs:
        return {}
    quantities = frozenset({Quantity.COUNTERS if stat == "sessions" else Quantity.USERS})
    projects = tuple(sorted({p for p, _ in pairs}))
    granularity = retained_granularity(lo, hi, rollup, now=now, retention=retention)

    def query(group_by: tuple[Dimension, ...], releases: bool) -> AggregateQuery:
        return AggregateQuery(
            project_ids=projects,
            start=lo,
            end=hi,
            granularity=granularity,
            quantities=quantities,
            group_by=group_by,
            filter=pairs_filter([r for _, r in pairs], environments)
            if releases
            else environment_filter(environments),
            interval=rollup,
        )

    released = await store.aggregate(query(("project_id", "release"), releases=True))
    whole = await store.aggregate(query(("project_id",), releases=False))
    by_pair = {pair_key(g): buckets for g, buckets in released.series.items()}
    by_project = {g.project_id: buckets for g, buckets in whole.series.items()}
    intervals = list(range(lo, hi, rollup))
    result: dict[ProjectRelease, AdoptionSeries] = {}
    for pair in pairs:
        mine, theirs = by_pair.get(pair, {}), by_project.get(pair[0], {})
        rates = [share(_count(mine.get(t), stat), _count(theirs.get(t), stat)) for t in intervals]
        result[pair] = AdoptionSeries(stat, intervals, rates)
    return result
