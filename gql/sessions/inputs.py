"""`SessionsQueryInput` and the `SessionsRequest` it asks: built from the typed input
directly (datetimes, lists, ints and booleans as they are), with the checks and messages
of Sentry's parameters (`release-health.md` 8.13 steps 2 to 3.2, in that order), so GraphQL
and REST answer the same question the same way."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.sessions.pagination import check_per_page, parse_cursor
from resolvers.sessions.request import SearchFilter, SessionsRequest, interval_of, project_ids
from resolvers.sessions.time_range import select_range


@strawberry.input(description="The parameters of Sentry's sessions API.")
class SessionsQueryInput:
    fields: list[str] = strawberry.field(description="e.g. `sum(session)`, `crash_free_rate(user)`.")
    group_by: list[str] | None = strawberry.field(
        default=None,
        description=(
            "`project`, `release`, `environment`, `session.status`, and this server's extensions "
            "`release.version` (the release's version without package and build code, so that "
            "`25.11.2+345` and `pkg@25.11.2+346` form one group `25.11.2`; a release that is not "
            "a version is its own group) and the client dimensions (one family per query: sdk, "
            "os or browser; intervals of 1h or more) `sdk.name`, `os.name`, `os.major`, "
            "`browser.name`, `browser.major`."
        ),
    )
    interval: str | None = strawberry.field(default=None, description="Bucket size, default `1h`.")
    stats_period: str | None = strawberry.field(
        default=None, description="A look-back such as `24h` or `14d` (Sentry's `statsPeriod`)."
    )
    stats_period_start: str | None = strawberry.field(
        default=None, description="With `statsPeriodEnd`: a window between two look-backs."
    )
    stats_period_end: str | None = strawberry.field(
        default=None, description="With `statsPeriodStart`: the window's end as a look-back."
    )
    start: datetime | None = strawberry.field(default=None, description="With `end`: an explicit range.")
    end: datetime | None = strawberry.field(default=None, description="With `start`: an explicit range.")
    environments: list[str] | None = strawberry.field(
        default=None, description="Only these environments; null or empty for all."
    )
    projects: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Project ids; null or `-1` means every readable project."
    )
    query: str | None = strawberry.field(
        default=None,
        description='Search filter, e.g. `release:foo@1.0`, `os.name:iOS`, `browser.major:"Chrome 120"`.',
    )
    order_by: str | None = strawberry.field(
        default=None, description="A requested field, `-` for descending."
    )
    per_page: int | None = strawberry.field(default=None, description="Groups per page (1 to 5000).")
    cursor: str | None = strawberry.field(default=None, description="A page cursor from `page`.")
    include_totals: bool = strawberry.field(default=True, description="Whether groups carry totals.")
    include_series: bool = strawberry.field(default=True, description="Whether groups carry series.")
    now: datetime | None = strawberry.field(
        default=None, description="The reference time; null for the request's clock."
    )


def _as_given(moment: datetime) -> datetime:
    return moment


def sessions_request(query: SessionsQueryInput, clock: datetime) -> SessionsRequest:
    """The request `query` asks; `clock` is `now` unless the input gives it. Raises
    `SessionsQueryError` as the REST parameters' parser does."""
    per_page = None if query.per_page is None else check_per_page(query.per_page)
    cursor = parse_cursor(query.cursor)
    now = clock if query.now is None else query.now
    time_range = select_range(
        query.stats_period,
        (query.stats_period_start, query.stats_period_end),
        (query.start, query.end),
        _as_given,
        now,
    )
    projects = project_ids(str(project) for project in query.projects or ())
    return SessionsRequest(
        fields=tuple(query.fields),
        now=now,
        group_by=tuple(query.group_by or ()),
        time_range=time_range,
        interval=interval_of(query.interval),
        environments=tuple(query.environments or ()),
        projects=projects,
        filter=SearchFilter.parse(query.query or ""),
        order_by=() if query.order_by is None else (query.order_by,),
        per_page=per_page,
        cursor=cursor,
        include_totals=query.include_totals,
        include_series=query.include_series,
    )
