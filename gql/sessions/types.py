"""The result types of `Query.sessions`: typed, columnar groups (series are columnar
lists per field; the numbers are the REST endpoint's)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gql.core.scalars import Count


@strawberry.type(description="The group's values of the groupBy dimensions (absent ones are null).")
class SessionGroupBy:
    project: strawberry.ID | None = strawberry.field(description="`project`: the numeric project id.")
    release: str | None = strawberry.field(description="`release`: the release name.")
    environment: str | None = strawberry.field(description="`environment`: its name.")
    session_status: str | None = strawberry.field(
        description="`session.status`: `healthy`, `errored`, `crashed`, `abnormal` or `unhandled`."
    )
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
    field: str = strawberry.field(description="The requested field, e.g. `sum(session)`.")
    value: float | None = strawberry.field(description="Its total; null without data (rates, durations).")
    count: Count | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type(description="One field's values per interval, aligned with `SessionsResult.intervals`.")
class SessionFieldSeries:
    field: str = strawberry.field(description="The requested field, e.g. `sum(session)`.")
    values: list[float | None] = strawberry.field(description="Its value per interval; null without data.")
    counts: list[Count | None] | None = strawberry.field(description=_COUNT_DESCRIPTION)


@strawberry.type(description="One group of the answer: its groupBy values, totals and series.")
class SessionGroup:
    by: SessionGroupBy = strawberry.field(description="The group's values of the groupBy dimensions.")
    totals: list[SessionFieldTotal] | None = strawberry.field(description="Null when includeTotals is false.")
    series: list[SessionFieldSeries] | None = strawberry.field(
        description="Null when includeSeries is false."
    )


@strawberry.type(description="The cursors of Sentry's `Link` header (pagination by `perPage`).")
class SessionsPage:
    previous_cursor: str = strawberry.field(description="Pass as `cursor` for the previous page.")
    has_previous: bool = strawberry.field(description="Whether a previous page has results.")
    next_cursor: str = strawberry.field(description="Pass as `cursor` for the next page.")
    has_next: bool = strawberry.field(description="Whether a next page has results.")


@strawberry.type(description="The sessions API's answer; the same numbers as the REST endpoint.")
class SessionsResult:
    start: datetime = strawberry.field(description="The first bucket's start.")
    end: datetime = strawberry.field(description="The end of the last bucket.")
    intervals: list[datetime] = strawberry.field(description="Bucket starts, aligned with every series.")
    query: str = strawberry.field(description="The search filter as given.")
    groups: list[SessionGroup] = strawberry.field(description="The groups, in the requested order.")
    page: SessionsPage = strawberry.field(description="Pagination of the groups.")
