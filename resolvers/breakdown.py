"""Time shapes of the release-health backend functions (`release-health.md` sections 5.4,
5.6 and 5.11): which instants and buckets a result has, independent of the numbers in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from resolvers.timewindow import to_intervals

#: Days after `start` at which the crash-free breakdown takes a cumulative checkpoint.
CHECKPOINT_DAYS: Final = (1, 2, 7, 14, 30)
#: Upstream rounds a release-stats end up to its old 10-second storage resolution.
_END_RESOLUTION: Final = 10


def crash_free_breakdown_checkpoints(start: datetime, now: datetime) -> list[tuple[datetime, bool]]:
    """The `date` of each breakdown entry (each covering `[start, date)`) and whether it
    is the final `now` entry.

    Upstream quirk, kept: a `now` entry is added only when the first future checkpoint is
    more than one whole day after the previous one, so with `start = now − 1.5 d` the
    output is just `start + 1 d` and the latest data never shows.
    """
    checkpoints: list[tuple[datetime, bool]] = []
    previous: datetime | None = None
    for days in CHECKPOINT_DAYS:
        checkpoint = start + timedelta(days=days)
        if checkpoint > now:
            if previous is None or (checkpoint - previous).days > 1:
                checkpoints.append((now, True))
            break
        checkpoints.append((checkpoint, False))
        previous = checkpoint
    return checkpoints


def stats_buckets(now: float, bucket_size: int, buckets: int, has_data: bool) -> list[int]:
    """Bucket starts of the overview's stats series for one pair (section 5.4).

    A pair with data gets every aligned bucket of `now − period … now` (25 hourly buckets
    for 24h when `now` is not on the hour); a pair without data gets exactly `buckets`
    entries from the first boundary strictly after `now − period` (upstream's
    `_make_stats`). Both end with the bucket containing `now` unless `now` is on a boundary.
    """
    period_start = now - bucket_size * buckets
    if has_data:
        first, end, _ = to_intervals(period_start, now, bucket_size)
        return list(range(first, end, bucket_size))
    first = int(period_start // bucket_size + 1) * bucket_size
    return [first + index * bucket_size for index in range(buckets)]


def stats_series(
    now: float, bucket_size: int, buckets: int, values: Mapping[int, int] | None
) -> list[tuple[int, int]]:
    """`[(bucket start, value)]` for one pair; `values` (bucket start -> value, buckets
    without data may be missing) is None for a pair without data in the window."""
    return [
        (bucket, values.get(bucket, 0) if values is not None else 0)
        for bucket in stats_buckets(now, bucket_size, buckets, values is not None)
    ]


def release_stats_range(start: float, end: float, rollup: int) -> tuple[int, int, int]:
    """The adjusted range of `get_project_release_stats` (section 5.11), kept exactly as
    upstream: start moves to the next rollup boundary strictly after it, end to the next
    multiple of 10 s strictly after it, then both are aligned on the rollup."""
    next_start = int(start // rollup + 1) * rollup
    next_end = int(end // _END_RESOLUTION + 1) * _END_RESOLUTION
    return to_intervals(next_start, next_end, rollup)
