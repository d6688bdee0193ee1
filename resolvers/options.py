"""Server settings the release-health computations depend on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueryOptions:
    #: Data-point budget of the sessions query (release-health.md 8.12).
    max_data_points: int = 10_000
    #: Adoption-stage threshold (a fraction) and trailing window in seconds (6.2).
    adoption_threshold: float = 0.1
    adoption_window: int = 6 * 3600
    #: Minute buckets older than this many seconds are not used (4.4).
    minute_retention: int = 30 * 86400
