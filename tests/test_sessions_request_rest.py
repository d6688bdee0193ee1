"""Sentry's REST parameters parsed into a `SessionsRequest` (release-health.md 8.2, 8.13
steps 2 to 3.2), and the errors `define` reports later in 8.13's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resolvers.sessions import (
    Cursor,
    SearchFilter,
    SessionsGroup,
    SessionsQueryContext,
    SessionsQueryError,
    SessionsQueryResult,
    SessionsRequest,
    define,
    parse_sessions_params,
)
from resolvers.sessions.result import sentry_body
from resolvers.sessions.time_range import (
    DEFAULT_RANGE,
    DateRange,
    Period,
    StatsPeriod,
    StatsPeriodWindow,
    resolve_range,
)

CLOCK = datetime(2021, 3, 5, 11, 14, 17, tzinfo=UTC)
CONTEXT = SessionsQueryContext(now=CLOCK, projects={1: "p1", 2: "p2"}, environments={"prod"})


def parse(query: str) -> SessionsRequest:
    pairs = [tuple(piece.split("=", 1)) for piece in query.split("&") if piece]
    return parse_sessions_params([(key, value) for key, value in pairs], CLOCK)


def error_of(query: str) -> str:
    with pytest.raises(SessionsQueryError) as info:
        define(parse(query), CONTEXT)
    return info.value.message


def test_every_parameter_becomes_a_typed_value():
    request = parse(
        "field=sum(session)&field=crash_free_rate(user)&groupBy=release&statsPeriod=2d&interval=6h"
        "&environment=prod&project=2&project=1&query=release:a@1&orderBy=-sum(session)&per_page=10"
        "&cursor=0:10:0&includeTotals=0&now=2021-03-04T12:00:00Z"
    )
    assert request == SessionsRequest(
        fields=("sum(session)", "crash_free_rate(user)"),
        now=datetime(2021, 3, 4, 12, tzinfo=UTC),
        group_by=("release",),
        time_range=StatsPeriod(Period(2 * 86400, "2d")),
        interval=6 * 3600,
        environments=("prod",),
        projects=(2, 1),
        filter=SearchFilter("release:a@1"),
        order_by=("-sum(session)",),
        per_page=10,
        cursor=Cursor(0, 10, False),
        include_totals=False,
        include_series=True,
    )
    [term] = request.filter.tokens
    assert (term.key, term.value) == ("release", "a@1")


def test_defaults():
    request = parse("field=sum(session)")
    assert request.now == CLOCK
    assert request.time_range == DEFAULT_RANGE
    assert resolve_range(DEFAULT_RANGE, CLOCK) == (CLOCK - timedelta(days=90), CLOCK)
    assert (request.interval, request.per_page, request.cursor) == (3600, None, None)
    assert (request.include_totals, request.include_series) == (True, True)
    assert request.filter == SearchFilter("") and request.filter.checked_tokens() == []
    # only the exact value 0 omits; an unparseable interval is one hour (8.4, 8.5)
    other = parse("field=x&includeSeries=false&interval=soon")
    assert (other.include_series, other.interval) == (True, 3600)


def test_range_forms():
    window = parse("statsPeriodStart=3d&statsPeriodEnd=1d").time_range
    assert window == StatsPeriodWindow(Period(3 * 86400, "3d"), Period(86400, "1d"))
    assert resolve_range(window, CLOCK) == (CLOCK - timedelta(days=3), CLOCK - timedelta(days=1))
    dates = parse("start=2021-03-01T00:00:00Z&end=2021-03-02").time_range
    assert dates == DateRange(datetime(2021, 3, 1, tzinfo=UTC), datetime(2021, 3, 2, tzinfo=UTC))
    # timeframe aliases win over statsPeriod
    assert parse("statsPeriod=2d&timeframe=5h").time_range == StatsPeriod(Period(5 * 3600, "5h"))
    assert parse("timeframeStart=2h&timeframeEnd=1h&statsPeriodStart=9d").time_range == StatsPeriodWindow(
        Period(7200, "2h"), Period(3600, "1h")
    )
    # an empty statsPeriodStart/End pair is absent, as upstream's truthiness tests
    assert parse("statsPeriodStart=&statsPeriodEnd=").time_range == DEFAULT_RANGE


@pytest.mark.parametrize(
    ("query", "message"),
    [
        # 8.13 step 2 before everything, per_page before cursor
        ("per_page=0&cursor=x&statsPeriod=zz", "Invalid per_page parameter."),
        ("per_page=5001", "Invalid per_page value. Cannot exceed 5000."),
        ("cursor=1:2&statsPeriod=zz", "Invalid cursor parameter."),
        # 3.1 dates before 3.2 project ids
        ("statsPeriod=zz&project=abc", "Invalid date range: Invalid statsPeriod: 'zz'"),
        # a period reaching before year 1 from now, quoted as written
        ("statsPeriod=800000d&project=abc", "Invalid date range: Invalid statsPeriod: '800000d'"),
        ("statsPeriodStart=1d&statsPeriodEnd=2d&project=abc", "Invalid date range: start must be before end"),
        ("statsPeriodStart=1d", "Invalid date range: statsPeriodStart and statsPeriodEnd are both required"),
        ("start=nope&project=abc", "Invalid date range: start and end are both required"),
        ("start=nope&end=2021-01-01", "Invalid date range: nope is not a valid ISO8601 date query"),
        ("now=later&statsPeriod=zz", "Invalid date range: later is not a valid ISO8601 date query"),
        ("project=1&project=abc", "Invalid project parameter. Values must be numbers."),
        (
            "project=99999999999",
            "Invalid project parameter. Values must be -1 or project ids up to 2147483647.",
        ),
    ],
)
def test_parser_errors_in_evaluation_order(query: str, message: str):
    with pytest.raises(SessionsQueryError) as info:
        parse(f"field=sum(session)&{query}")
    assert (info.value.message, info.value.status) == (message, 400)


def test_later_errors_wait_for_define_and_the_organization():
    # a missing field, an unknown environment, a syntax error: not the parser's to report
    request = parse("query=release:a OR&environment=nope&project=9")
    assert request.fields == () and request.filter.error is not None
    with pytest.raises(SessionsQueryError) as forbidden:
        define(request, CONTEXT)
    assert (forbidden.value.status, forbidden.value.message) == (
        403,
        "You do not have permission to perform this action.",
    )
    with pytest.raises(SessionsQueryError) as missing:
        define(parse("environment=nope"), CONTEXT)
    assert missing.value.status == 404
    assert error_of("query=release:a OR") == 'Request is missing a "field"'
    # the syntax error comes at step 5: after the interval checks of step 4
    assert error_of("field=sum(session)&query=release:a OR&interval=7s") == (
        "The interval has to be a multiple of the minimum interval of ten seconds."
    )
    assert error_of("field=sum(session)&statsPeriod=1d&query=release:a OR") == (
        "Condition is missing on the right side of 'OR' operator"
    )


def test_define_takes_a_request_built_without_any_text():
    request = SessionsRequest(
        fields=("sum(session)", "sum(session)"),
        now=CLOCK,
        time_range=DateRange(datetime(2021, 3, 1, tzinfo=UTC), datetime(2021, 3, 2, 1, tzinfo=UTC)),
        interval=86400,
        projects=(-1,),
    )
    definition = define(request, CONTEXT)
    assert definition.fields == ("sum(session)",)
    assert definition.project_ids == (1, 2)
    # a day interval aligns the end up to the next day: two buckets
    assert (definition.start, definition.end) == (1614556800, 1614556800 + 2 * 86400)
    assert definition.num_intervals == 2
    overflowing = SessionsRequest(
        fields=("sum(session)",), now=CLOCK, time_range=StatsPeriod(Period(10**11, "huge"))
    )
    with pytest.raises(SessionsQueryError) as info:
        define(overflowing, CONTEXT)
    assert info.value.message == "Invalid date range: Invalid statsPeriod: 'huge'"


def test_sentry_json_of_a_typed_result():
    group = SessionsGroup({"release": "a@1"}, None, {"sum(session)": [3, None]})
    result = SessionsQueryResult(
        1614556800, 1614556800 + 7200, 3600, "release:a@1", [group], Cursor(0, 0, True), Cursor(0, 5000)
    )
    assert list(result.intervals) == [1614556800, 1614560400]
    assert sentry_body(result) == {
        "start": "2021-03-01T00:00:00Z",
        "end": "2021-03-01T02:00:00Z",
        "intervals": ["2021-03-01T00:00:00Z", "2021-03-01T01:00:00Z"],
        "groups": [{"by": {"release": "a@1"}, "series": {"sum(session)": [3, None]}}],
        "query": "release:a@1",
    }
