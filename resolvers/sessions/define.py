"""`define`: a `SessionsRequest` checked against the organization in the evaluation order
of `release-health.md` 8.13 (steps 3 to 12; the front end that built the request has
reported the syntax errors of steps 2 to 3.2), giving a `SessionsQueryDefinition`."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import datetime

from resolvers.granularity import RetentionExceeded, choose_granularity
from storage.sql.dimensions import ClientDimensionError, query_family
from storage.types import Cond

from . import errors
from .definition import ReleaseSource, SessionsQueryContext, SessionsQueryDefinition, StageSource
from .errors import SessionsQueryError
from .fields import COUNT_UNIQUE_USER, FIELDS, GROUP_BY, FieldKind, is_rate
from .ordering import resolve_order_by
from .pagination import DEFAULT_PAGE_SIZE
from .query_filter import FilterContext, combine, compile_filter, resolve_terms
from .request import SessionsRequest
from .scope import check_environments, check_interval, constrain_range, distinct, select_projects
from .status_filter import extract_status_filter
from .time_range import resolve_range


def define(request: SessionsRequest, context: SessionsQueryContext) -> SessionsQueryDefinition:
    """Validate a request (8.13 steps 3 to 12). Raises `SessionsQueryError`."""
    per_page, cursor, now = request.per_page, request.cursor, request.now

    # 3. filter parameters: dates, projects, environments
    requested_start, requested_end = resolve_range(request.time_range, now)
    project_ids = select_projects(request.projects, context.projects)
    environments = check_environments(request.environments, context.environments)

    # 4. fields, groupBy, interval and range (this project: and retention, 4.4)
    fields = distinct(request.fields)
    if not fields:
        raise SessionsQueryError(errors.MISSING_FIELD)
    for name in fields:
        if name not in FIELDS:
            raise SessionsQueryError(errors.invalid_field(name))
    group_by = distinct(request.group_by)
    for name in group_by:
        if name not in GROUP_BY:
            raise SessionsQueryError(errors.invalid_group_by(name))
    dimensions = tuple(dim for name in group_by if (dim := GROUP_BY[name]) is not None)
    interval = request.interval
    check_interval(interval)
    start, end, num_intervals = constrain_range(requested_start, requested_end, now, interval)
    retained = _retained_granularity(start, end, interval, now, context)

    # 5. the query filter, term by term
    tokens = request.filter.checked_tokens()
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
        query=request.filter.text,
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
    order_by = resolve_order_by(request.order_by, fields, active, group_by_status, status_filter)

    # 11. include flags
    include_totals, include_series = request.include_totals, request.include_series
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


def _resolve_releases(source: ReleaseSource, project_ids: tuple[int, ...]) -> Collection[str]:
    if callable(source):
        return source(project_ids)
    return source


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
