"""`get_project_release_stats` (release-health.md section 5.11): a release's series and
totals of sessions or users by status, with duration percentiles per bucket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from resolvers import formulas
from resolvers.breakdown import release_stats_range
from resolvers.errors import InvalidQuery
from resolvers.filters import pair_key, pairs_filter
from resolvers.granularity import retained_granularity
from resolvers.rollup import check_bucket_count, checked_rollup
from storage.protocol import Store
from storage.types import Aggregate, AggregateQuery, ProjectRelease, Quantity

STATS: Final = ("sessions", "users")


@dataclass(frozen=True, slots=True)
class StatCounts:
    """`<stat>` and its five status groups (sessions: 3.2, users: 3.3)."""

    total: int = 0
    healthy: int = 0
    errored: int = 0
    crashed: int = 0
    abnormal: int = 0
    unhandled: int = 0

    @classmethod
    def of(cls, agg: Aggregate | None, stat: str) -> StatCounts:
        if agg is None:
            return cls()
        if stat == "sessions":
            total = agg.counters.started
            statuses = formulas.session_statuses(agg.counters, agg.errored_set)
        else:
            total = agg.users.all
            statuses = formulas.user_statuses(agg.users)
        return cls(
            total=total,
            healthy=statuses.healthy,
            errored=statuses.errored,
            crashed=statuses.crashed,
            abnormal=statuses.abnormal,
            unhandled=statuses.unhandled,
        )

    def as_upstream(self, stat: str) -> dict[str, Any]:
        return {
            stat: self.total,
            f"{stat}_healthy": self.healthy,
            f"{stat}_errored": self.errored,
            f"{stat}_crashed": self.crashed,
            f"{stat}_abnormal": self.abnormal,
            f"{stat}_unhandled": self.unhandled,
        }


@dataclass(frozen=True, slots=True)
class ReleaseStatsEntry:
    timestamp: int  # bucket start, unix seconds
    counts: StatCounts
    duration_p50: float | None  # seconds; None without durations
    duration_p90: float | None


@dataclass(frozen=True, slots=True)
class ReleaseStats:
    stat: str
    series: list[ReleaseStatsEntry]
    totals: StatCounts  # over the whole adjusted range (distinct counts are unions)

    def as_upstream(self) -> tuple[list[list[Any]], dict[str, Any]]:
        """Upstream's `(series, totals)`: `[[unix_ts, {<stat>…, duration_p50, duration_p90}]]`."""
        series = [
            [
                e.timestamp,
                {
                    **e.counts.as_upstream(self.stat),
                    "duration_p50": e.duration_p50,
                    "duration_p90": e.duration_p90,
                },
            ]
            for e in self.series
        ]
        return series, self.totals.as_upstream(self.stat)


async def release_stats(
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
) -> dict[ProjectRelease, ReleaseStats]:
    """Stats of each pair over the range adjusted as upstream: start moves to the next
    rollup boundary strictly after it, end to the next 10 s strictly after it, both aligned
    on the rollup. A pair without data gets every bucket with zeros and null durations.

    One store call (the series with its totals) per batch, whatever the number of pairs. `now` and
    `retention` only decide which stored buckets a sub-hour rollup reads (4.4).
    """
    if stat not in STATS:
        raise InvalidQuery(f"Invalid stat: {stat}")
    checked_rollup(rollup)
    lo, hi, count = release_stats_range(start, end, rollup)
    check_bucket_count(count)
    if not pairs:
        return {}
    counts = (
        frozenset({Quantity.COUNTERS, Quantity.ERRORS})
        if stat == "sessions"
        else frozenset({Quantity.USERS, Quantity.USER_STATUSES})
    )
    series_result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted({p for p, _ in pairs})),
            start=lo,
            end=hi,
            granularity=retained_granularity(lo, hi, rollup, now=now, retention=retention),
            quantities=counts | {Quantity.DURATIONS},
            group_by=("project_id", "release"),
            filter=pairs_filter([r for _, r in pairs], environments),
            interval=rollup,
            # The totals of the range from the same rows: one read for both.
            totals=True,
        )
    )
    series = {pair_key(g): buckets for g, buckets in series_result.series.items()}
    totals = {pair_key(g): agg for g, agg in series_result.totals.items()}
    result: dict[ProjectRelease, ReleaseStats] = {}
    for pair in pairs:
        buckets = series.get(pair, {})
        entries = []
        for t in range(lo, hi, rollup):
            agg = buckets.get(t)
            p50, p90 = formulas.duration_quantiles(agg.durations, (0.5, 0.9)) if agg else (None, None)
            entries.append(
                ReleaseStatsEntry(
                    timestamp=t, counts=StatCounts.of(agg, stat), duration_p50=p50, duration_p90=p90
                )
            )
        result[pair] = ReleaseStats(stat, entries, StatCounts.of(totals.get(pair), stat))
    return result
