"""Running a `SessionsQueryDefinition` against a store and building the response JSON
(`release-health.md` 8.5, 8.8, 8.9, 8.11, 8.12).

The store needs one method, `async def aggregate(query) -> AggregateResult`: with
`query.interval` it fills `series`, without it `totals`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from resolvers.formulas import duration_quantile
from storage.types import (
    Aggregate,
    AggregateQuery,
    AggregateResult,
    And,
    Cond,
    Filter,
    GroupKey,
    Or,
    Quantity,
)

from .definition import SessionsQueryDefinition
from .fields import CLIENT_KEYS, RELEASE_VERSION_GROUP_BY, SUM_SESSION
from .ordering import OrderBy, sort_groups
from .pagination import Cursor, page_cursors
from .query_filter import combine
from .result import GroupValue, SessionsGroup, SessionsQueryResult
from .values import (
    DurationQuantile,
    Value,
    field_reader,
    field_value,
    session_status_count,
    users_value,
)


class AggregateStore(Protocol):
    async def aggregate(self, query: AggregateQuery) -> AggregateResult: ...


def _has_data(aggregate: Aggregate, quantity: Quantity) -> bool:
    if quantity is Quantity.COUNTERS:
        return aggregate.counters.has_data()
    if quantity is Quantity.ERRORS:
        return aggregate.errored_set > 0
    if quantity in _USER_QUANTITIES:
        return aggregate.users.all > 0 or aggregate.has_users
    return aggregate.durations.count > 0


#: Distinct users: the costly quantities of a totals query (every group's sketches merged
#: over the whole range). `_deferred_quantities` moves them to the page's series query.
_USER_QUANTITIES = frozenset({Quantity.USERS, Quantity.USER_STATUSES, Quantity.USER_PRESENCE})


def _deferred_quantities(definition: SessionsQueryDefinition) -> frozenset[Quantity]:
    """The user quantities that the totals query need not count: those not ordering the
    groups, when the series query (one read of the page's rows) can give the page's
    totals. The totals query then only finds which groups have users (8.8)."""
    if not definition.include_series or definition.order_by is None:
        return frozenset()
    ordering = definition.field_quantities(definition.order_by.field)
    return (definition.quantities & _USER_QUANTITIES) - ordering


def group_exists(definition: SessionsQueryDefinition, aggregate: Aggregate) -> bool:
    """8.8: any requested field's backing data has data for the group."""
    return any(
        _has_data(aggregate, quantity)
        for name in definition.active_fields
        for quantity in definition.field_quantities(name)
    )


def ordering_value(
    definition: SessionsQueryDefinition,
    order_by: OrderBy,
    aggregate: Aggregate,
    quantile: DurationQuantile,
) -> Value:
    """The ordering quantity of an underlying group (8.11)."""
    if order_by.field == SUM_SESSION:
        if order_by.status is not None:
            return session_status_count(aggregate, order_by.status)
        return aggregate.counters.started
    if order_by.field == "count_unique(user)":
        return users_value(aggregate, None, definition.status_filter)
    return field_value(order_by.field, aggregate, None, definition.status_filter, quantile)


def page_filter(definition: SessionsQueryDefinition, page: list[GroupKey]) -> Filter:
    """Restrict a query to the groups of one page (their grouped dimension values)."""
    dimensions = definition.dimensions
    if len(dimensions) == 1:
        (dim,) = dimensions
        return Cond(dim, tuple(getattr(key, dim) for key in page))
    branches: list[Filter] = [
        And(tuple(Cond(dim, (getattr(key, dim),)) for dim in dimensions)) for key in page
    ]
    return branches[0] if len(branches) == 1 else Or(tuple(branches))


def _by(definition: SessionsQueryDefinition, key: GroupKey, status: str | None) -> dict[str, GroupValue]:
    by: dict[str, GroupValue] = {}
    for name in definition.group_by:
        if name == "project":
            by["project"] = key.project_id
        elif name == "release":
            if key.release is not None:
                by["release"] = key.release
        elif name == "environment":
            if key.environment is not None:
                by["environment"] = key.environment
        elif name == RELEASE_VERSION_GROUP_BY:
            by[RELEASE_VERSION_GROUP_BY] = key.release_version
        elif name in CLIENT_KEYS:
            value = getattr(key, CLIENT_KEYS[name])
            if value is not None:  # a major that the user agent did not give
                by[name] = value
        else:
            by["session.status"] = status
    return by


def _result(
    definition: SessionsQueryDefinition, groups: list[SessionsGroup], previous: Cursor, following: Cursor
) -> SessionsQueryResult:
    return SessionsQueryResult(
        definition.start, definition.end, definition.interval, definition.query, groups, previous, following
    )


async def execute_sessions_query(
    store: AggregateStore,
    definition: SessionsQueryDefinition,
    *,
    quantile: DurationQuantile = duration_quantile,
) -> SessionsQueryResult:
    """Run the definition: the totals query decides which groups exist and their order,
    the series query (unless `includeSeries=0`) fills the series."""
    if definition.empty_result or definition.order_by is None:
        previous, following = page_cursors(definition.offset, definition.page_size, False)
        return _result(definition, [], previous, following)

    deferred = _deferred_quantities(definition)
    totals_query = definition.totals_query()
    if deferred:
        totals_query = replace(
            totals_query, quantities=(totals_query.quantities - deferred) | {Quantity.USER_PRESENCE}
        )
    totals = await store.aggregate(totals_query)
    if definition.dimensions:
        keys = [key for key, agg in totals.totals.items() if group_exists(definition, agg)]
    else:
        keys = [GroupKey()]
    empty = Aggregate()

    def total_of(key: GroupKey) -> Aggregate:
        return totals.totals.get(key, empty)

    order_by = definition.order_by
    ordered = sort_groups(
        keys,
        lambda key: ordering_value(definition, order_by, total_of(key), quantile),
        lambda key: key,
        order_by.descending,
    )
    page = ordered[definition.offset : definition.offset + definition.limit]
    # upstream's paginator: a page "has more" when exactly page_size + 1 groups came back
    # (with per_page the limit is page_size + 1; without it, the default limit applies and
    # the page size of the cursors is 5000)
    has_more = len(page) == definition.page_size + 1
    if has_more:
        page = page[:-1]

    series: dict[GroupKey, dict[int, Aggregate]] = {}
    shown_totals = totals.totals
    if definition.include_series and page:
        query = replace(definition.series_query(), totals=bool(deferred))
        if len(page) < len(keys):
            query = replace(query, filter=combine(query.filter, page_filter(definition, page)))
        answer = await store.aggregate(query)
        series = answer.series
        if deferred:
            # The page's totals, with every quantity, from the rows of its series.
            shown_totals = answer.totals

    intervals = definition.intervals
    statuses: tuple[str | None, ...] = definition.statuses if definition.group_by_status else (None,)
    status_filter = definition.status_filter
    readers = {
        status: [
            (name, field_reader(name, status, status_filter, quantile)) for name in definition.active_fields
        ]
        for status in statuses
    }
    groups: list[SessionsGroup] = []
    for key in page:
        total = shown_totals.get(key, empty)
        buckets = series.get(key, {})
        bucket = buckets.get
        for status in statuses:
            group_totals: dict[str, Value] | None = None
            group_series: dict[str, list[Value]] | None = None
            if definition.include_totals:
                group_totals = {name: read(total) for name, read in readers[status]}
            if definition.include_series:
                group_series = {
                    name: [read(bucket(t, empty)) for t in intervals] for name, read in readers[status]
                }
            groups.append(SessionsGroup(_by(definition, key, status), group_totals, group_series))

    previous, following = page_cursors(definition.offset, definition.page_size, has_more)
    return _result(definition, groups, previous, following)


async def run_sessions_query(
    store: AggregateStore,
    definition: SessionsQueryDefinition,
    *,
    quantile: DurationQuantile = duration_quantile,
) -> dict[str, Any]:
    """The response JSON of 8.5 (see `execute_sessions_query` for the cursors)."""
    return (await execute_sessions_query(store, definition, quantile=quantile)).body
