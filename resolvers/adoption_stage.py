"""Adoption stages derived from stored history (`release-health.md` section 6.2).

A stage is a pure function of the started counts of one (project, environment), so a past
stage can be recomputed and never depends on when a periodic job ran. Only `started`
counts: upstream also adds crashed, abnormal and pre-aggregated errored values to the
total, which double-counts crashes (section 6.1).

The hourly evaluation instants are swept in order with a sliding window over the buckets
sorted by start, so each bucket enters and leaves the window once instead of every window
being summed afresh: 90 days of hourly instants over hundreds of releases stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Stage = Literal["adopted", "low_adoption", "replaced"]

DEFAULT_THRESHOLD: Final = 0.1
DEFAULT_WINDOW: Final = 6 * 3600

_HOUR: Final = 3600
# `Release.is_valid_version` in upstream's `src/sentry/models/release.py`.
_BAD_VERSION_CHARS: Final = "\n\f\t/"


@dataclass(frozen=True, slots=True)
class AdoptionStage:
    stage: Stage
    adopted_at: float | None = None  # first instant adopted (kept across re-adoption)
    unadopted_at: float | None = None  # set only when `replaced`


NEVER_ADOPTED: Final = AdoptionStage("low_adoption")


def is_valid_version(version: str | None) -> bool:
    """Whether a release can have a stage: non-empty, none of newline, form feed, tab or
    `/`, and not `.`, `..` or `latest` in any case."""
    return not (
        not version
        or any(char in version for char in _BAD_VERSION_CHARS)
        or version in (".", "..")
        or version.lower() == "latest"
    )


def has_stage_environment(environment: str | None) -> bool:
    """Sessions without an environment, or with the empty one, have no stage."""
    return bool(environment)


def adoption_stages(
    started: Mapping[str, Mapping[int, int]],
    at: float,
    threshold: float = DEFAULT_THRESHOLD,
    window: int = DEFAULT_WINDOW,
) -> dict[str, AdoptionStage]:
    """The stage at `at` of every valid release of one (project, environment).

    `started` maps release -> bucket start (unix seconds, hourly or finer) -> started
    sessions. Every release of the environment must be present, valid or not, because all
    of them make up the environment's total. A release is adopted at an instant `t` when
    the buckets starting in `[t − window, t)` hold sessions and its share of them is at
    least `threshold`. Instants are the hour boundaries up to `at`, and `at` itself.
    """
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    valid = [release for release in started if is_valid_version(release)]
    stageable = set(valid)
    sweep = _SlidingWindow(started, window)
    first_adopted: dict[str, float] = {}
    last_adopted: dict[str, float] = {}

    def adopted_releases(instant: float) -> set[str]:
        sweep.move_to(instant)
        if not sweep.total:
            return set()
        # Releases outside the window have a share of 0, adopted only by a threshold <= 0.
        candidates = sweep.started if threshold > 0 else valid
        # Comparing the share rather than `rel >= threshold * total` keeps "exactly the
        # threshold" inclusive for every total: 3/30 rounds to the very double 0.1, whereas
        # 0.1 * 30 rounds above 3.
        adopted = {
            release for release in candidates if release in stageable and sweep.share(release) >= threshold
        }
        for release in adopted:
            first_adopted.setdefault(release, instant)
            last_adopted[release] = instant
        return adopted

    last_hour = at // _HOUR * _HOUR
    hour = sweep.first_boundary()
    while hour is not None and hour <= last_hour:
        adopted_releases(hour)
        if sweep.total:
            hour += _HOUR
        else:
            # An empty window stays empty until the next bucket starts: skip those hours.
            upcoming = sweep.upcoming_start()
            hour = None if upcoming is None else max(hour + _HOUR, _next_hour(upcoming))
    # `at` on an hour boundary was evaluated in the loop; evaluating it again is a no-op.
    adopted_now = adopted_releases(at)

    stages: dict[str, AdoptionStage] = {}
    for release in valid:
        if release not in first_adopted:
            stages[release] = NEVER_ADOPTED
        elif release in adopted_now:
            stages[release] = AdoptionStage("adopted", first_adopted[release])
        else:
            # The first evaluation instant after the last adoption: the next hour boundary,
            # or `at` itself when that boundary lies beyond it.
            unadopted = min(_next_hour(last_adopted[release]), at)
            stages[release] = AdoptionStage("replaced", first_adopted[release], unadopted)
    return stages


def _next_hour(instant: float) -> int:
    """The first hour boundary strictly after `instant`."""
    return int(instant // _HOUR + 1) * _HOUR


class _SlidingWindow:
    """Started sessions per release over buckets starting in `[t − width, t)`, for an
    instant `t` that only moves forward."""

    def __init__(self, started: Mapping[str, Mapping[int, int]], width: int) -> None:
        self._entries = sorted(
            (bucket, release, count)
            for release, buckets in started.items()
            for bucket, count in buckets.items()
            if count > 0
        )
        self._width = width
        self._entered = 0
        self._left = 0
        self.started: dict[str, int] = {}
        self.total = 0

    def first_boundary(self) -> int | None:
        """The first hour boundary whose window can hold data."""
        return _next_hour(self._entries[0][0]) if self._entries else None

    def upcoming_start(self) -> int | None:
        """Start of the earliest bucket not yet in the window."""
        if self._entered < len(self._entries):
            return self._entries[self._entered][0]
        return None

    def share(self, release: str) -> float:
        return self.started.get(release, 0) / self.total

    def move_to(self, instant: float) -> None:
        entries = self._entries
        while self._entered < len(entries) and entries[self._entered][0] < instant:
            _, release, count = entries[self._entered]
            self.started[release] = self.started.get(release, 0) + count
            self.total += count
            self._entered += 1
        while self._left < self._entered and entries[self._left][0] < instant - self._width:
            _, release, count = entries[self._left]
            self.started[release] -= count
            if not self.started[release]:
                del self.started[release]
            self.total -= count
            self._left += 1
