"""Server settings the release-health computations depend on."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from storage.types import DAY, HOUR, MINUTE


class Retention(Mapping[int, int]):
    """Stored granularity (seconds) -> retention (seconds, 0 = forever), as of `clock`.

    The cleanup deletes buckets relative to the server clock, so whether a question's
    buckets still exist is judged against the later of the question's `now` and `clock`
    (`resolvers.granularity.retention_reference`): a `now` in the past never makes deleted
    buckets look retained. `clock` None judges against the question's `now` alone.
    """

    __slots__ = ("_keep", "clock")

    def __init__(self, keep: Mapping[int, int], clock: float | None = None) -> None:
        self._keep = dict(keep)
        self.clock = clock

    def __getitem__(self, granularity: int) -> int:
        return self._keep[granularity]

    def __iter__(self) -> Iterator[int]:
        return iter(self._keep)

    def __len__(self) -> int:
        return len(self._keep)

    def __repr__(self) -> str:
        return f"Retention({self._keep!r}, clock={self.clock!r})"


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
    #: The server clock of the request being answered (unix seconds), set by `at`;
    #: `retention` carries it (see `Retention`).
    clock: float | None = None

    def at(self, clock: float) -> QueryOptions:
        """These options for a request answered at server time `clock`."""
        return replace(self, clock=clock)

    @property
    def retention(self) -> Retention:
        """Stored granularity (seconds) -> retention (seconds, 0 = forever), as of the
        request's clock."""
        return Retention(
            {MINUTE: self.minute_retention, HOUR: self.hour_retention, DAY: self.day_retention},
            self.clock,
        )
