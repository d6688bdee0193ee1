"""When a release has data: session time bounds (5.5) and oldest health data (5.8).

Both read the earliest / latest *hourly bucket start* holding data, in one store statement
per batch (`Store.bucket_bounds`), so the answers are hour-floored by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from resolvers.filters import environment_filter, pair_key, pairs_filter
from resolvers.granularity import check_retained
from resolvers.timetext import format_iso
from resolvers.timewindow import widen
from storage.protocol import Store
from storage.types import DAY, HOUR, AggregateQuery, GroupKey, ProjectRelease, Quantity

#: Upstream's lower end of the time-bounds query.
BOUNDS_EPOCH: Final = int(datetime(2008, 5, 8, tzinfo=UTC).timestamp())
#: Upstream reaches 10 s past `now`.
BOUNDS_SLACK: Final = 10


@dataclass(frozen=True, slots=True)
class SessionTimeBounds:
    """Earliest and latest hourly bucket start with data (unix seconds); both None without
    data."""

    lower: int | None
    upper: int | None

    @property
    def sessions_lower_bound(self) -> str | None:
        """`YYYY-MM-DDTHH:MM:SSZ`, as upstream reports it."""
        return None if self.lower is None else format_iso(self.lower)

    @property
    def sessions_upper_bound(self) -> str | None:
        return None if self.upper is None else format_iso(self.upper)


NO_BOUNDS: Final = SessionTimeBounds(None, None)


async def session_time_bounds(
    store: Store,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    environments: Sequence[str] | None = None,
) -> dict[ProjectRelease, SessionTimeBounds]:
    """`get_release_sessions_time_bounds` for each pair (section 5.5).

    Window `2008-05-08T00:00:00Z … now + 10 s`, hourly; counter and duration data count.
    As upstream, an empty release means "every release of the project" and an empty (or
    null) `environments` means no environment filter. One statement for the pairs with a
    release and one for those without, whatever the number of pairs.
    """
    if not pairs:
        return {}
    start, end = widen(BOUNDS_EPOCH, now + BOUNDS_SLACK, HOUR)
    env = environment_filter(environments) if environments else None
    quantities = frozenset({Quantity.COUNTERS, Quantity.DURATIONS})
    named = [pair for pair in pairs if pair[1]]
    whole = [pair for pair in pairs if not pair[1]]
    found: dict[ProjectRelease, tuple[int, int]] = {}
    if named:
        per_release = await store.bucket_bounds(
            AggregateQuery(
                project_ids=tuple(sorted({p for p, _ in named})),
                start=start,
                end=end,
                granularity=HOUR,
                quantities=quantities,
                group_by=("project_id", "release"),
                filter=pairs_filter([r for _, r in named], environments or None),
            )
        )
        found.update({pair_key(g): b for g, b in per_release.items()})
    if whole:
        per_project = await store.bucket_bounds(
            AggregateQuery(
                project_ids=tuple(sorted({p for p, _ in whole})),
                start=start,
                end=end,
                granularity=HOUR,
                quantities=quantities,
                group_by=("project_id",),
                filter=env,
            )
        )
        for g, b in per_project.items():
            assert g.project_id is not None
            found[(g.project_id, "")] = b
    result: dict[ProjectRelease, SessionTimeBounds] = {}
    for pair in pairs:
        bounds = found.get(pair)
        # A bound at the unix epoch counts as no data (upstream's "empty" answer).
        if bounds is None or bounds[0] == 0 or bounds[1] == 0:
            result[pair] = NO_BOUNDS
        else:
            result[pair] = SessionTimeBounds(*bounds)
    return result


async def oldest_health_data(
    store: Store,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    retention: Mapping[int, int] | None = None,
) -> dict[ProjectRelease, int]:
    """`get_oldest_health_data_for_releases` (section 5.8): per pair, the earliest hourly
    bucket start (unix seconds) with counter data in the last 90 days (hourly, widened).

    As upstream (and 5.1) the filter is *project IN … AND release IN …*, so unasked cross
    combinations with data are returned too; pairs without data are absent. With
    `retention`, a window whose hourly buckets are deleted raises `RetentionExceeded`.
    """
    if not pairs:
        return {}
    start, end = widen(now - 90 * DAY, now, HOUR)
    check_retained(HOUR, start, now=now, retention=retention)
    bounds = await store.bucket_bounds(
        AggregateQuery(
            project_ids=tuple(sorted({p for p, _ in pairs})),
            start=start,
            end=end,
            granularity=HOUR,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "release"),
            filter=pairs_filter([r for _, r in pairs], None),
        )
    )
    return {pair_key(g): low for g, (low, _) in bounds.items() if _is_pair(g)}


def _is_pair(group: GroupKey) -> bool:
    return group.project_id is not None and group.release is not None
