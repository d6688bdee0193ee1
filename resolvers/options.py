"""Server settings the release-health computations depend on."""

from __future__ import annotations

from dataclasses import dataclass

from storage.types import DAY, HOUR, MINUTE


@dataclass(frozen=True, slots=True)
class QueryOptions:
    #: Data-point budget of the sessions query (release-health.md 8.12).
    max_data_points: int = 10_000
    #: Adoption-stage threshold (a fraction) and trailing window in seconds (6.2).
    adoption_threshold: float = 0.1
    adoption_window: int = 6 * 3600
    #: How long (seconds) the buckets of each stored granularity are kept (4.4); 0 keeps
    #: them forever. `resolvers.granularity.choose_granularity` reads only retained buckets.
    minute_retention: int = 30 * 86400
    hour_retention: int = 400 * 86400
    day_retention: int = 400 * 86400

    @property
    def retention(self) -> dict[int, int]:
        """Stored granularity (seconds) -> retention (seconds, 0 = forever)."""
        return {MINUTE: self.minute_retention, HOUR: self.hour_retention, DAY: self.day_retention}
