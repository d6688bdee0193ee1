"""The result types of `Query.sessions`: typed, columnar groups (series are columnar
lists per field; the numbers are the REST endpoint's)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.scalars import Count


@strawberry.type(description="The group's values of the groupBy dimensions (absent ones are null).")
class SessionGroupBy:
    project: strawberry.ID | None
    release: str | None
    environment: str | None
    session_status: str | None
    sdk_name: str | None = strawberry.field(
        description="`sdk.name`: the envelope's SDK, e.g. `sentry.cocoa`."
    )
    os_name: str | None = strawberry.field(description="`os.name`: e.g. `iOS`, `Android`, `Windows`.")
    os_major: str | None = strawberry.field(
        description="`os.major`: the OS with its major version, e.g. `iOS 17`; null when unknown."
    )
    browser_name: str | None = strawberry.field(description="`browser.name`: e.g. `Chrome`, `Mobile Safari`.")
    browser_major: str | None = strawberry.field(
        description="`browser.major`: the browser with its major version, e.g. `Chrome 120`."
    )
    release_version: str | None = strawberry.field(
        default=None,
        description='With `groupBy: ["release.version"]`: the version without package and build code.',
    )


_COUNT_DESCRIPTION = (
    "The exact count for `sum(session)` and `count_unique(user)` (as `value`, which is a "
    "Float and so exact only up to 2^53); null for rates and durations."
)


@strawberry.type(description="One field's total over the whole range.")
class SessionFieldTotal:
    field: str
    value: float | None
    count: Count | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type(description="One field's values per interval, aligned with `SessionsResult.intervals`.")
class SessionFieldSeries:
    field: str
    values: list[float | None]
    counts: list[Count | None] | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type
class SessionGroup:
    by: SessionGroupBy
    totals: list[SessionFieldTotal] | None = strawberry.field(description="Null when includeTotals is false.")
    series: list[SessionFieldSeries] | None = strawberry.field(
        description="Null when includeSeries is false."
    )


@strawberry.type
class SessionsPage:
    previous_cursor: str
    has_previous: bool
    next_cursor: str
    has_next: bool


@strawberry.type(description="The sessions API's answer; the same numbers as the REST endpoint.")
class SessionsResult:
    start: datetime
    end: datetime
    intervals: list[datetime]
    query: str
    groups: list[SessionGroup]
    page: SessionsPage
