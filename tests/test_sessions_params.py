"""Dates, interval and filter parameters of the sessions query (release-health.md 8.2, 8.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resolvers import timewindow
from resolvers.sessions import SessionsQueryContext, SessionsQueryError, build_definition
from resolvers.sessions.errors import SessionsQueryForbidden, SessionsQueryNotFound
from resolvers.sessions.params import (
    QueryParams,
    check_interval,
    parse_interval,
    resolve_date_range,
    resolve_environments,
    resolve_projects,
)
from resolvers.sessions.params import _instant as parse_datetime
from resolvers.timetext import format_iso as isoformat


def to_intervals(start, end, interval):
    return timewindow.to_intervals(start.timestamp(), end.timestamp(), interval)


def dt(text: str) -> datetime:
    parsed = parse_datetime(text)
    assert parsed is not None
    return parsed


def build(now: str, **params: str | list[str]):
    pairs: list[tuple[str, str]] = [("field", "sum(session)")]
    for key, value in params.items():
        for item in [value] if isinstance(value, str) else value:
            pairs.append((key, item))
    return build_definition(pairs, SessionsQueryContext(now=dt(now), projects={1: "p1"}))


def window(definition) -> tuple[str, str, int]:
    return isoformat(definition.start), isoformat(definition.end), len(definition.intervals)


# -- the example table of 8.4 ------------------------------------------------------------


def test_absolute_range_on_the_grid_keeps_its_end():
    d = build(
        "2021-03-05T11:14:17.105Z",
        start="2021-02-24T00:00:00",
        end="2021-02-25T00:00:00",
        interval="1h",
    )
    assert window(d) == ("2021-02-24T00:00:00Z", "2021-02-25T00:00:00Z", 24)


def test_future_start_is_clamped_to_now():
    d = build(
        "2021-03-05T11:00:00Z",
        start="2021-03-05T12:00:00",
        end="2021-03-05T13:00:00",
        interval="1h",
    )
    assert window(d) == ("2021-03-05T11:00:00Z", "2021-03-05T13:00:00Z", 2)


def test_absolute_range_daily():
    d = build(
        "2021-03-05T11:14:17.105Z",
        start="2021-01-12T04:06:16",
        end="2021-01-17T08:26:13",
        interval="1d",
    )
    assert window(d)[:2] == ("2021-01-12T00:00:00Z", "2021-01-18T00:00:00Z")


def test_stats_period_twelve_hour_interval():
    d = build("2020-12-18T11:14:17.105Z", statsPeriod="1d", interval="12h")
    assert window(d) == ("2020-12-17T00:00:00Z", "2020-12-18T12:00:00Z", 3)


def test_stats_period_six_hour_interval():
    d = build("2020-12-18T13:25:15.769Z", statsPeriod="12h", interval="6h")
    assert window(d)[:2] == ("2020-12-18T00:00:00Z", "2020-12-18T18:00:00Z")


def test_minute_interval():
    d = build("2021-03-08T09:34:00Z", statsPeriod="30m", interval="1m")
    assert window(d) == ("2021-03-08T09:04:00Z", "2021-03-08T09:34:00Z", 30)
    assert d.intervals[0] == d.start and d.intervals[-1] == d.end - 60


def test_ninety_minute_interval_is_accepted():
    d = build("2021-03-05T11:14:17.105Z", statsPeriod="6h", interval="90m")
    assert window(d)[:2] == ("2021-03-05T04:30:00Z", "2021-03-05T12:00:00Z")


@pytest.mark.parametrize("interval", ["59m", "5h", "3610s"])
def test_interval_must_divide_a_day(interval):
    with pytest.raises(SessionsQueryError) as info:
        build("2021-03-05T11:14:17Z", statsPeriod="1d", interval=interval)
    assert info.value.message == "The interval should divide one day without a remainder."


@pytest.mark.parametrize("interval", ["15s", "9s", "0d", "0"])
def test_interval_ten_seconds(interval):
    with pytest.raises(SessionsQueryError) as info:
        build("2021-03-05T11:14:17Z", statsPeriod="1d", interval=interval)
    assert info.value.message == ("The interval has to be a multiple of the minimum interval of ten seconds.")


def test_interval_above_a_day():
    with pytest.raises(SessionsQueryError) as info:
        build("2021-03-05T11:14:17Z", statsPeriod="7d", interval="2d")
    assert info.value.message == "The interval has to be less than one day."


@pytest.mark.parametrize("params", [{"statsPeriod": "90d", "interval": "1h"}, {"interval": "1h"}, {}])
def test_too_many_buckets(params):
    with pytest.raises(SessionsQueryError) as info:
        build("2021-03-05T11:14:17Z", **params)
    assert info.value.message == (
        "Your interval and date range would create too many results. Use a larger interval, "
        "or a smaller date range."
    )
    assert info.value.status == 400


def test_default_is_the_last_90_days():
    d = build("2021-03-05T11:14:17Z", interval="1d")
    assert window(d) == ("2020-12-05T00:00:00Z", "2021-03-06T00:00:00Z", 91)


def test_unparseable_interval_becomes_one_hour():
    d = build("2021-03-05T11:14:17Z", statsPeriod="1d", interval="bogus")
    assert d.interval == 3600
    assert parse_interval(QueryParams([("interval", "")])) == 3600
    assert parse_interval(QueryParams([])) == 3600
    assert parse_interval(QueryParams([("interval", "90")])) == 90


def test_exactly_1000_buckets_is_fine():
    d = build("2021-03-05T00:00:00Z", statsPeriod="1000m", interval="1m")
    assert len(d.intervals) == 1000
    with pytest.raises(SessionsQueryError):
        build("2021-03-05T00:00:30Z", statsPeriod="1000m", interval="1m")


def test_check_interval_accepts_divisors_of_a_day():
    for seconds in (10, 20, 30, 60, 90, 120, 300, 3600, 7200, 43200, 86400):
        check_interval(seconds)


# -- to_intervals (4.2) ------------------------------------------------------------------


def test_to_intervals_examples():
    now = dt("2018-12-11T03:21:00Z")
    start = now - timedelta(days=2)
    s, e, n = to_intervals(start, now, 3600)
    assert (isoformat(s), isoformat(e), n) == ("2018-12-09T03:00:00Z", "2018-12-11T04:00:00Z", 49)
    s, e, n = to_intervals(start, now, 86400)
    assert (isoformat(s), isoformat(e), n) == ("2018-12-09T00:00:00Z", "2018-12-12T00:00:00Z", 3)
    now = dt("2021-03-05T11:14:17.105Z")
    s, e, _ = to_intervals(now - timedelta(hours=1), now, 90)
    assert (isoformat(s), isoformat(e)) == ("2021-03-05T10:13:30Z", "2021-03-05T11:15:00Z")


def test_to_intervals_end_on_grid_not_extended_but_fraction_is():
    start = dt("2021-03-05T10:00:00Z")
    assert to_intervals(start, dt("2021-03-05T12:00:00Z"), 3600)[2] == 2
    assert to_intervals(start, dt("2021-03-05T12:00:00.000001Z"), 3600)[2] == 3


# -- date parameters (8.2, 8.13 step 3.1) ------------------------------------------------

NOW = dt("2021-03-05T11:14:17Z")


def date_range(**params: str):
    return resolve_date_range(QueryParams(list(params.items())), NOW)


def date_error(**params: str) -> str:
    with pytest.raises(SessionsQueryError) as info:
        date_range(**params)
    assert info.value.status == 400
    return info.value.message


def test_stats_period_wins_over_everything():
    start, end = date_range(
        statsPeriod="1h", statsPeriodStart="3d", statsPeriodEnd="2d", start="bogus", end="x"
    )
    assert (start, end) == (NOW - timedelta(hours=1), NOW)


def test_stats_period_start_end_win_over_start_end():
    start, end = date_range(statsPeriodStart="3d", statsPeriodEnd="2d", start="bogus")
    assert (start, end) == (NOW - timedelta(days=3), NOW - timedelta(days=2))


def test_start_end_absolute_formats():
    start, end = date_range(start="2021-03-01T00:00:00+02:00", end="1614729600")
    assert start == dt("2021-02-28T22:00:00Z")
    assert end == dt("2021-03-03T00:00:00Z")
    start, _ = date_range(start="2021-03-01", end="2021-03-02T00:00:00.5Z")
    assert start == dt("2021-03-01T00:00:00Z")


def test_timeframe_aliases():
    assert date_range(timeframe="2h")[0] == NOW - timedelta(hours=2)
    assert date_range(timeframe="2h", statsPeriod="1h")[0] == NOW - timedelta(hours=2)
    assert date_range(timeframeStart="3d", timeframeEnd="1d") == (
        NOW - timedelta(days=3),
        NOW - timedelta(days=1),
    )
    assert date_error(timeframeStart="3d") == (
        "Invalid date range: timeframeStart and timeframeEnd are both required"
    )


def test_date_errors():
    assert date_error(start="2021-03-01T00:00:00") == ("Invalid date range: start and end are both required")
    assert date_error(end="2021-03-01T00:00:00") == ("Invalid date range: start and end are both required")
    assert date_error(start="2021-03-02T00:00:00", end="2021-03-01T00:00:00") == (
        "Invalid date range: start must be before end"
    )
    assert date_error(start="2021-03-01T00:00:00", end="2021-03-01T00:00:00") == (
        "Invalid date range: start must be before end"
    )
    assert date_error(statsPeriodStart="1d") == (
        "Invalid date range: statsPeriodStart and statsPeriodEnd are both required"
    )
    assert date_error(statsPeriodStart="1d", statsPeriodEnd="2d") == (
        "Invalid date range: start must be before end"
    )
    assert date_error(start="shrug", end="2021-03-01T00:00:00") == (
        "Invalid date range: shrug is not a valid ISO8601 date query"
    )
    assert date_error(start="2021-03-01T00:00:00", end="shrug") == (
        "Invalid date range: shrug is not a valid ISO8601 date query"
    )
    assert date_error(statsPeriod="shrug") == "Invalid date range: Invalid statsPeriod: 'shrug'"
    assert date_error(statsPeriod="") == "Invalid date range: Invalid statsPeriod: ''"
    assert date_error(statsPeriod="99999999999999w") == (
        "Invalid date range: Invalid statsPeriod: '99999999999999w'"
    )
    assert date_error(statsPeriodStart="x", statsPeriodEnd="1d") == (
        "Invalid date range: Invalid statsPeriod: 'x'"
    )


def test_future_range_before_clamping_is_valid():
    start, end = date_range(start="2021-03-06T00:00:00", end="2021-03-07T00:00:00")
    assert start > NOW and end > start


def test_now_parameter_overrides_the_clock():
    d = build_definition(
        [("field", "sum(session)"), ("statsPeriod", "1h"), ("now", "2020-01-01T10:30:00Z")],
        SessionsQueryContext(now=NOW, projects={1: "p1"}),
    )
    assert (isoformat(d.start), isoformat(d.end)) == ("2020-01-01T09:00:00Z", "2020-01-01T11:00:00Z")
    with pytest.raises(SessionsQueryError) as info:
        build_definition(
            [("field", "sum(session)"), ("now", "later")],
            SessionsQueryContext(now=NOW, projects={1: "p1"}),
        )
    assert info.value.message == "Invalid date range: later is not a valid ISO8601 date query"


def test_parse_datetime_variants():
    assert parse_datetime("2021-03-05T11:14:17.105Z") == datetime(2021, 3, 5, 11, 14, 17, 105000, tzinfo=UTC)
    assert parse_datetime("1614942857") == datetime(2021, 3, 5, 11, 14, 17, tzinfo=UTC)
    assert parse_datetime("nope") is None
    assert parse_datetime("inf") is None


# -- projects and environments (8.13 steps 3.2, 3.3) -------------------------------------

READABLE = {3: "c", 1: "a", 2: "b"}


def projects(*values: str) -> tuple[int, ...]:
    return resolve_projects(QueryParams([("project", v) for v in values]), READABLE)


def test_projects_absent_or_minus_one_mean_all_readable():
    assert projects() == (1, 2, 3)
    assert projects("-1") == (1, 2, 3)
    assert projects("2", "1", "2") == (1, 2)


def test_project_errors():
    with pytest.raises(SessionsQueryError) as info:
        projects("1", "abc")
    assert info.value.message == "Invalid project parameter. Values must be numbers."
    with pytest.raises(SessionsQueryForbidden) as forbidden:
        projects("1", "9")
    assert forbidden.value.status == 403
    assert forbidden.value.message == "You do not have permission to perform this action."
    with pytest.raises(SessionsQueryError) as none:
        resolve_projects(QueryParams([]), {})
    assert none.value.message == "No projects available"


def test_environments():
    params = QueryParams([("environment", "prod"), ("environment", ""), ("environment", "prod")])
    assert resolve_environments(params, {"prod", ""}) == ("prod", "")
    assert resolve_environments(params, None) == ("prod", "")
    with pytest.raises(SessionsQueryNotFound) as info:
        resolve_environments(QueryParams([("environment", "nope")]), {"prod"})
    assert info.value.status == 404
    assert info.value.message == "The requested resource does not exist"


def test_single_valued_parameter_uses_the_last_value():
    params = QueryParams([("statsPeriod", "1d"), ("statsPeriod", "2h")])
    assert params.get("statsPeriod") == "2h"
    assert params.getlist("statsPeriod") == ["1d", "2h"]
    assert "statsPeriod" in params and "x" not in params
