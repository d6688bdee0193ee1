"""The sessions query definition (`release-health.md` 8): a request validated in the
evaluation order of 8.13 (`define.define`), ready for an executor to compile into
`storage.types.AggregateQuery` objects.

    definition = define(request, SessionsQueryContext(now=..., projects=...))
    totals = await store.aggregate(definition.totals_query())
    series = await store.aggregate(definition.series_query())
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    AggregateQuery,
    Dimension,
    Filter,
    Quantity,
)

from .fields import (
    STATUS_GROUP_BY,
    STATUSES,
    field_quantities,
)
from .ordering import OrderBy
from .pagination import DEFAULT_PAGE_SIZE, Cursor

DEFAULT_BUDGET = 10_000

#: Known releases: a collection, or a function of the requested project ids.
ReleaseSource = Collection[str] | Callable[[tuple[int, ...]], Collection[str]]
#: Release stages at `now`: (requested project ids, environment) -> {release: stage}.
StageSource = Callable[[tuple[int, ...], str], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class SessionsQueryContext:
    """Everything besides the request parameters that the definition depends on.

    * `now`: the server clock, read once (the request's `now` may differ from it);
    * `projects`: every project the caller can read in the organization, id -> slug;
    * `environments`: the organization's environment names (None skips the 404 check);
    * `releases`: the releases known to the server (8.7), only read when a release filter
      is used;
    * `release_stages`: the stage of each release in one environment (6.3), at the
      request's `now`;
    * `latest_releases`: the newest release of each requested project at the request's
      `now` (`release:latest`), only read when a `release` term names it;
    * `budget`: the data-point budget (8.12);
    * `retention`: stored granularity -> retention in seconds (0 = forever), judged
      against the later of `now` and the `now` parameter (`resolvers.granularity`); None
      assumes every bucket is retained.
    """

    now: datetime
    projects: Mapping[int, str]
    environments: Collection[str] | None = None
    releases: ReleaseSource = ()
    release_stages: StageSource | None = None
    latest_releases: ReleaseSource = ()
    budget: int = DEFAULT_BUDGET
    retention: Mapping[int, int] | None = None


def storage_granularity(start: int, interval: int) -> int:
    """The stored granularity to read: the largest of one day / hour / minute dividing both
    the interval and the aligned start (hence also the aligned end). Intervals that no
    stored granularity divides (for example 90 s or 30 s) read minute buckets, each
    attributed to the query bucket containing its start (4.4)."""
    for granularity in (DAY, HOUR, MINUTE):
        if interval % granularity == 0 and start % granularity == 0:
            return granularity
    return MINUTE


@dataclass(frozen=True, slots=True)
class SessionsQueryDefinition:
    """A validated sessions query.

    `fields` are the requested fields (request order, duplicates removed); `active_fields`
    those left after the status filter removed duration fields (8.10). `group_by` keeps the
    requested groupBy values; `dimensions` are the stored ones (without `session.status`).
    `filter` holds every project/release/environment condition of `query` and the
    `environment` parameter; `status_filter` the selected statuses (None: no status
    filter). Times are unix seconds, aligned (8.4).

    `limit` underlying groups are fetched from `offset` on, after ordering by `order_by`:
    `per_page + 1` with `per_page`, else the default limit (8.12); `page_size` is the page
    size of the cursors. With `empty_result` the response is `groups: []` (8.8) and
    `order_by` is None.
    """

    query: str
    fields: tuple[str, ...]
    active_fields: tuple[str, ...]
    group_by: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    project_ids: tuple[int, ...]
    environments: tuple[str, ...]
    filter: Filter | None
    status_filter: frozenset[str] | None
    start: int
    end: int
    interval: int
    now: datetime
    budget: int
    order_by: OrderBy | None = None
    limit: int = 0
    offset: int = 0
    per_page: int | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    include_totals: bool = True
    include_series: bool = True
    empty_result: bool = False
    cursor: Cursor | None = field(default=None)
    #: The stored granularity retention allows (None: `storage_granularity`).
    retained_granularity: int | None = None

    # -- time ------------------------------------------------------------------------

    @property
    def intervals(self) -> tuple[int, ...]:
        """Every bucket start from `start` (inclusive) to `end` (exclusive)."""
        return tuple(range(self.start, self.end, self.interval))

    @property
    def num_intervals(self) -> int:
        return (self.end - self.start) // self.interval

    @property
    def granularity(self) -> int:
        if self.retained_granularity is not None:
            return self.retained_granularity
        return storage_granularity(self.start, self.interval)

    # -- grouping ----------------------------------------------------------------------

    @property
    def group_by_status(self) -> bool:
        return STATUS_GROUP_BY in self.group_by

    @property
    def statuses(self) -> tuple[str, ...]:
        """Statuses to emit when grouped by `session.status` (8.9), in enum order."""
        if self.status_filter is None:
            return STATUSES
        return tuple(status for status in STATUSES if status in self.status_filter)

    # -- storage queries -----------------------------------------------------------------

    def field_quantities(self, name: str) -> frozenset[Quantity]:
        """A field's stored quantities: also its backing data for group existence (8.8)."""
        return field_quantities(name, self.group_by_status, self.status_filter)

    @property
    def quantities(self) -> frozenset[Quantity]:
        result: frozenset[Quantity] = frozenset()
        for name in self.active_fields:
            result |= self.field_quantities(name)
        return result

    def totals_query(self) -> AggregateQuery:
        """Range totals per group (distinct counts are unions over the whole range)."""
        return AggregateQuery(
            project_ids=self.project_ids,
            start=self.start,
            end=self.end,
            granularity=self.granularity,
            quantities=self.quantities,
            group_by=self.dimensions,
            filter=self.filter,
        )

    def series_query(self) -> AggregateQuery:
        """Per-group series grouped by the interval."""
        return replace(self.totals_query(), interval=self.interval)
