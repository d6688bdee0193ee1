"""GraphQL's `SessionsQueryInput` built into a `SessionsRequest` without going through
text: the same request, and the same errors in the same order, as Sentry's parameters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import strawberry

from gql.sessions.inputs import SessionsQueryInput, sessions_request
from resolvers.sessions import Cursor, SessionsQueryError, parse_sessions_params
from resolvers.sessions.time_range import DEFAULT_RANGE, DateRange, Period, StatsPeriodWindow

CLOCK = datetime(2021, 3, 5, 11, 14, 17, tzinfo=UTC)


def build(**values: object) -> SessionsQueryInput:
    return SessionsQueryInput(**{"fields": ["sum(session)"], **values})  # type: ignore[arg-type]


def error_of(**values: object) -> str:
    with pytest.raises(SessionsQueryError) as info:
        sessions_request(build(**values), CLOCK)
    return info.value.message


def test_the_same_request_as_the_rest_parameters():
    now = datetime(2021, 3, 4, 12, 0, 0, 250000, tzinfo=UTC)
    given = build(
        fields=["sum(session)", "crash_free_rate(user)"],
        group_by=["release", "session.status"],
        interval="6h",
        stats_period_start="3d",
        stats_period_end="1d",
        environments=["prod", "dev"],
        projects=[strawberry.ID("2"), strawberry.ID("-1")],
        query="release:a@1 OR environment:dev",
        order_by="-sum(session)",
        per_page=10,
        cursor="0:10:1",
        include_totals=False,
        now=now,
    )
    rest = parse_sessions_params(
        [
            ("field", "sum(session)"),
            ("field", "crash_free_rate(user)"),
            ("groupBy", "release"),
            ("groupBy", "session.status"),
            ("interval", "6h"),
            ("statsPeriodStart", "3d"),
            ("statsPeriodEnd", "1d"),
            ("environment", "prod"),
            ("environment", "dev"),
            ("project", "2"),
            ("project", "-1"),
            ("query", "release:a@1 OR environment:dev"),
            ("orderBy", "-sum(session)"),
            ("per_page", "10"),
            ("cursor", "0:10:1"),
            ("includeTotals", "0"),
            ("now", "2021-03-04T12:00:00.25Z"),
        ],
        CLOCK,
    )
    request = sessions_request(given, CLOCK)
    assert request == rest
    assert request.filter.tokens == rest.filter.tokens and len(request.filter.tokens) == 3
    assert request.now is now
    assert request.time_range == StatsPeriodWindow(Period(3 * 86400, "3d"), Period(86400, "1d"))
    assert (request.projects, request.cursor, request.per_page) == ((2, -1), Cursor(0, 10, True), 10)
    assert (request.interval, request.include_totals, request.include_series) == (21600, False, True)


def test_datetimes_are_taken_as_given():
    start = datetime(2021, 3, 1, 0, 0, 0, 123456, tzinfo=UTC)
    end = datetime(2021, 3, 2, tzinfo=UTC)
    request = sessions_request(build(start=start, end=end), CLOCK)
    assert request.time_range == DateRange(start, end)
    assert request.time_range.start is start


def test_defaults():
    request = sessions_request(build(), CLOCK)
    assert (request.now, request.time_range, request.interval) == (CLOCK, DEFAULT_RANGE, 3600)
    assert (request.group_by, request.environments, request.projects, request.order_by) == ((), (), (), ())
    assert (request.per_page, request.cursor, request.filter.text) == (None, None, "")
    # like the REST parameter, an unparseable interval is one hour and an empty pair absent
    unusual = sessions_request(build(interval="soon", stats_period_start="", stats_period_end=""), CLOCK)
    assert (unusual.interval, unusual.time_range) == (3600, DEFAULT_RANGE)


def test_errors_in_evaluation_order():
    start = datetime(2021, 3, 2, tzinfo=UTC)
    assert error_of(per_page=0, cursor="x") == "Invalid per_page parameter."
    assert error_of(per_page=5001) == "Invalid per_page value. Cannot exceed 5000."
    assert error_of(cursor="1:x:0", stats_period="zz") == "Invalid cursor parameter."
    assert error_of(stats_period="zz", projects=["abc"]) == "Invalid date range: Invalid statsPeriod: 'zz'"
    assert error_of(stats_period="", projects=["abc"]) == "Invalid date range: Invalid statsPeriod: ''"
    assert error_of(start=start, projects=["abc"]) == "Invalid date range: start and end are both required"
    assert error_of(start=start, end=start) == "Invalid date range: start must be before end"
    assert error_of(stats_period_end="1d") == (
        "Invalid date range: statsPeriodStart and statsPeriodEnd are both required"
    )
    assert error_of(projects=["1", "abc"]) == "Invalid project parameter. Values must be numbers."
    # errors needing the organization or a later step are define's: building succeeds
    later = sessions_request(build(fields=[], query="(", projects=["9"], order_by="x"), CLOCK)
    assert later.filter.error is not None and later.fields == ()
