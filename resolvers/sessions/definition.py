"""The sessions query definition (`release-health.md` 8): every request parameter parsed
and validated in the evaluation order of 8.13, ready for an executor to compile into
`storage.types.AggregateQuery` objects.

    definition = build_definition(request_pairs, SessionsQueryContext(now=..., projects=...))
    totals = await store.aggregate(definition.totals_query())
    series = await store.aggregate(definition.series_query())
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from resolvers.granularity import RetentionExceeded, choose_granularity
from resolvers.timetext import format_iso as isoformat
from storage.sql.dimensions import ClientDimensionError, query_family
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    AggregateQuery,
    Cond,
    Dimension,
    Filter,
    Quantity,
)

from . import errors
from .errors import SessionsQueryError
from .fields import (
    COUNT_UNIQUE_USER,
    FIELDS,
    GROUP_BY,
    STATUS_GROUP_BY,
    STATUSES,
    FieldKind,
    field_quantities,
    is_rate,
)
from .filter_parser import parse_query
from .ordering import OrderBy, resolve_order_by
from .pagination import DEFAULT_PAGE_SIZE, Cursor, parse_cursor, parse_per_page
from .params import (
    QueryParams,
    check_interval,
    constrain_range,
    distinct,
    parse_include,
    parse_interval,
    parse_now,
    resolve_date_range,
    resolve_environments,
    resolve_projects,
)
from .query_filter import FilterContext, combine, compile_filter, resolve_terms
from .status_filter import extract_status_filter

DEFAULT_BUDGET = 10_000

#: Known releases: a collection, or a function of the requested project ids.
ReleaseSource = Collection[str] | Callable[[tuple[int, ...]], Collection[str]]
#: Release stages at `now`: (requested project ids, environment) -> {release: stage}.
StageSource = Callable[[tuple[int, ...], str], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class SessionsQueryContext:
    """Everything besides the request parameters that the definition depends on.

    * `now`: the server clock, read once (the `now` parameter overrides it);
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
    def iso_intervals(self) -> list[str]:
        return [isoformat(t) for t in self.intervals]

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


def _resolve_releases(source: ReleaseSource, project_ids: tuple[int, ...]) -> Collection[str]:
    if callable(source):
        return source(project_ids)
    return source


def build_definition(
    params: Sequence[tuple[str, str]], context: SessionsQueryContext
) -> SessionsQueryDefinition:
    """Parse and validate a request in the evaluation order of 8.13 (steps 2 to 12; step 1,
    authentication and organization, is the caller's). Raises `SessionsQueryError`."""
    request = QueryParams(params)

    # 2. pagination parameters
    per_page = parse_per_page(request.get("per_page"))
    cursor = parse_cursor(request.get("cursor"))

    # 3. filter parameters: dates, projects, environments
    now = parse_now(request, context.now)
    requested_start, requested_end = resolve_date_range(request, now)
    project_ids = resolve_projects(request, context.projects)
    environments = resolve_environments(request, context.environments)

    # 4. fields, groupBy, interval and range (this project: and retention, 4.4)
    fields = distinct(request.getlist("field"))
    if not fields:
        raise SessionsQueryError(errors.MISSING_FIELD)
    for name in fields:
        if name not in FIELDS:
            raise SessionsQueryError(errors.invalid_field(name))
    group_by = distinct(request.getlist("groupBy"))
    for name in group_by:
        if name not in GROUP_BY:
            raise SessionsQueryError(errors.invalid_group_by(name))
    dimensions = tuple(dim for name in group_by if (dim := GROUP_BY[name]) is not None)
    interval = parse_interval(request)
    check_interval(interval)
    start, end, num_intervals = constrain_range(requested_start, requested_end, now, interval)
    retained = _retained_granularity(start, end, interval, now, context)

    # 5. the query filter, term by term
    query = request.get("query") or ""
    tokens = parse_query(query)
    filter_context = FilterContext(
        project_ids=project_ids,
        project_slugs=context.projects,
        environments=environments,
        known_environments=context.environments,
        releases=lambda: _resolve_releases(context.releases, project_ids),
        latest_releases=lambda: _resolve_releases(context.latest_releases, project_ids),
        release_stages=(
            None if context.release_stages is None else _bind_stages(context.release_stages, project_ids)
        ),
    )
    resolved = resolve_terms(tokens, filter_context)

    # 6. the status filter
    status_filter = extract_status_filter(tokens)
    environment_filter = Cond("environment", tuple(environments)) if environments else None
    definition = SessionsQueryDefinition(
        query=query,
        fields=fields,
        active_fields=fields,
        group_by=group_by,
        dimensions=dimensions,
        project_ids=project_ids,
        environments=environments,
        filter=combine(environment_filter, compile_filter(tokens, resolved)),
        status_filter=status_filter,
        start=start,
        end=end,
        interval=interval,
        now=now,
        budget=context.budget,
        per_page=per_page,
        cursor=cursor,
        offset=cursor.offset if cursor is not None else 0,
        page_size=per_page if per_page is not None else DEFAULT_PAGE_SIZE,
        retained_granularity=retained,
    )

    # this project: client dimensions (README "Client dimensions") of one family, hourly
    try:
        query_family(definition.totals_query())
    except ClientDimensionError as exc:
        raise SessionsQueryError(str(exc)) from None

    # 7. a status filter that can never match
    if status_filter is not None and not status_filter:
        return replace(definition, active_fields=(), empty_result=True)

    # 8. per-field errors, first offending field in request order
    group_by_status = definition.group_by_status
    for name in fields:
        if is_rate(name):
            if group_by_status:
                raise SessionsQueryError(errors.cannot_group_field(name))
            if status_filter is not None:
                raise SessionsQueryError(errors.cannot_filter_field(name))
        elif (
            name == COUNT_UNIQUE_USER
            and status_filter is not None
            and len(status_filter) > 1
            and not group_by_status
        ):
            raise SessionsQueryError(errors.USERS_MULTIPLE_STATUS)

    # 9. fields removed by the status filter
    active = tuple(
        name
        for name in fields
        if not (
            FIELDS[name] is FieldKind.DURATION
            and status_filter is not None
            and "healthy" not in status_filter
        )
    )
    if not active:
        return replace(definition, active_fields=(), empty_result=True)

    # 10. orderBy
    order_by = resolve_order_by(request.getlist("orderBy"), fields, active, group_by_status, status_filter)

    # 11. include flags
    include_totals = parse_include(request, "includeTotals")
    include_series = parse_include(request, "includeSeries")
    if not include_totals and not include_series:
        raise SessionsQueryError(errors.OMIT_BOTH)

    # 12. the data-point budget
    budget = context.budget
    if per_page is not None:
        if include_series and num_intervals * (per_page + 1) > budget:
            raise SessionsQueryError(
                errors.budget_exceeded(num_intervals, interval, end - start, per_page + 1)
            )
        limit = per_page + 1
    elif include_series:
        limit = max(budget // num_intervals, 1)
    else:
        limit = budget

    return replace(
        definition,
        active_fields=active,
        order_by=order_by,
        limit=limit,
        include_totals=include_totals,
        include_series=include_series,
    )


def _retained_granularity(
    start: int, end: int, interval: int, now: datetime, context: SessionsQueryContext
) -> int | None:
    """This project: the stored buckets retention allows, or the retention error (4.4)."""
    if context.retention is None:
        return None
    reference = max(now, context.now).timestamp()
    try:
        return choose_granularity(start, end, interval, now=reference, retention=context.retention)
    except RetentionExceeded as exc:
        raise SessionsQueryError(exc.message) from None


def _bind_stages(source: StageSource, project_ids: tuple[int, ...]) -> Callable[[str], Mapping[str, str]]:
    def lookup(environment: str) -> Mapping[str, str]:
        return source(project_ids, environment)

    return lookup
