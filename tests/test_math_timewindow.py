"""Interval alignment, widening, stats periods and interval validation
(`release-health.md` sections 4.2 to 4.5 and 8.4)."""

from datetime import UTC, datetime

import pytest

from resolvers.timewindow import (
    INTERVAL_ABOVE_DAY,
    INTERVAL_NOT_DIVIDING_DAY,
    INTERVAL_NOT_TEN_SECONDS,
    STATS_PERIODS,
    TOO_MANY_BUCKETS,
    InvalidInterval,
    InvalidStatsPeriod,
    constrained_range,
    parse_stats_period,
    to_intervals,
    validate_interval,
    widen,
)

HOUR = 3600
DAY = 86400


def ts(text: str) -> float:
    """Unix seconds of a `YYYY-MM-DDTHH:MM:SS[.fff]Z` literal (test-side conversion)."""
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC).timestamp()


# -- 4.2 to_intervals ----------------------------------------------------------------


def test_to_intervals_two_days_hourly() -> None:
    now = ts("2018-12-11T03:21:00Z")
    # start 2018-12-09T03:21 floors to 03:00; end − start' = 48 h 21 min -> ceil = 49
    # buckets, so end' = 03:00 + 49 h = 2018-12-11T04:00.
    assert to_intervals(now - 2 * DAY, now, HOUR) == (
        ts("2018-12-09T03:00:00Z"),
        ts("2018-12-11T04:00:00Z"),
        49,
    )


def test_to_intervals_two_days_daily() -> None:
    now = ts("2018-12-11T03:21:00Z")
    # start floors to 2018-12-09T00:00; end − start' = 2 d 3 h 21 min -> ceil = 3 days.
    assert to_intervals(now - 2 * DAY, now, DAY) == (
        ts("2018-12-09T00:00:00Z"),
        ts("2018-12-12T00:00:00Z"),
        3,
    )


def test_to_intervals_ninety_seconds() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    # start 10:14:17.105 is 36857.105 s into the day; 36857.105 / 90 = 409.5 -> 409 * 90 =
    # 36810 s = 10:13:30. end 11:14:17.105 = 40457.105 s; (40457.105 − 36810) / 90 = 40.5
    # -> 41 buckets; 36810 + 41 * 90 = 40500 s = 11:15:00.
    assert to_intervals(now - HOUR, now, 90) == (
        ts("2021-03-05T10:13:30Z"),
        ts("2021-03-05T11:15:00Z"),
        41,
    )


def test_to_intervals_does_not_extend_an_end_on_the_grid() -> None:
    # [00:00, 02:00) is exactly two hourly buckets.
    start = ts("2021-01-01T00:00:00Z")
    assert to_intervals(start, start + 2 * HOUR, HOUR) == (start, start + 2 * HOUR, 2)


def test_to_intervals_just_below_a_boundary_stays_in_the_earlier_bucket() -> None:
    start = ts("2021-01-01T01:00:00Z") - 1e-6
    assert to_intervals(start, start + 1, HOUR)[0] == ts("2021-01-01T00:00:00Z")


def test_to_intervals_end_before_start_gives_no_buckets() -> None:
    start = ts("2021-01-01T01:00:00Z")
    assert to_intervals(start, start - 5 * HOUR, HOUR) == (start, start, 0)


def test_to_intervals_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError):
        to_intervals(0, 10, 0)


# -- 4.3 widening ---------------------------------------------------------------------


def test_widen_sub_hour_window_to_the_whole_hour() -> None:
    # [17:20, 17:40) at hourly granularity counts [17:00, 18:00).
    assert widen(ts("2021-01-01T17:20:00Z"), ts("2021-01-01T17:40:00Z"), HOUR) == (
        ts("2021-01-01T17:00:00Z"),
        ts("2021-01-01T18:00:00Z"),
    )


def test_widen_end_includes_the_rest_of_its_hour() -> None:
    # An end at 12:15:23 widens to 13:00, so a session started at 12:27 is counted.
    start, end = widen(ts("2021-01-01T10:00:00Z"), ts("2021-01-01T12:15:23Z"), HOUR)
    assert start <= ts("2021-01-01T12:27:00Z") < end == ts("2021-01-01T13:00:00Z")


def test_widen_last_24_hours_covers_25_hours() -> None:
    now = ts("2021-01-01T17:40:00Z")
    start, end = widen(now - DAY, now, HOUR)
    # 2020-12-31T17:00 … 2021-01-01T18:00 = 25 h.
    assert (start, end) == (ts("2020-12-31T17:00:00Z"), ts("2021-01-01T18:00:00Z"))
    assert end - start == 25 * HOUR


def test_widen_last_90_days_daily_starts_at_midnight() -> None:
    now = ts("2021-04-10T08:30:00Z")
    # 90 days before 2021-04-10 is 2021-01-10; the day starts at 00:00.
    assert widen(now - 90 * DAY, now, DAY)[0] == ts("2021-01-10T00:00:00Z")


def test_widen_last_two_hours_at_17_40_counts_from_15_00() -> None:
    # Section 5.13: [now − 2 h, now) at 17:40 counts [15:00, 18:00).
    now = ts("2021-01-01T17:40:00Z")
    assert widen(now - 2 * HOUR, now, HOUR) == (
        ts("2021-01-01T15:00:00Z"),
        ts("2021-01-01T18:00:00Z"),
    )


# -- 4.5 stats periods ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "bucket_size", "buckets"),
    [
        ("1h", 3600, 1),
        ("24h", 3600, 24),
        ("1d", 3600, 24),
        ("48h", 3600, 48),
        ("2d", 3600, 48),
        ("7d", 86400, 7),
        ("14d", 86400, 14),
        ("30d", 86400, 30),
        ("90d", 259200, 30),
    ],
)
def test_stats_periods(period: str, bucket_size: int, buckets: int) -> None:
    assert parse_stats_period(period) == (bucket_size, buckets)


def test_stats_period_length_is_the_product() -> None:
    # 90d: 259200 * 30 = 7776000 s = 90 days.
    assert parse_stats_period("90d").seconds == 90 * DAY
    assert len(STATS_PERIODS) == 9


@pytest.mark.parametrize("period", ["2h", "3d", "24H", "", "1w", "90d "])
def test_other_stats_periods_are_invalid(period: str) -> None:
    with pytest.raises(InvalidStatsPeriod, match=r"^Invalid stats period$"):
        parse_stats_period(period)


# -- 8.4 interval validation and constrained ranges -----------------------------------


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        (59 * 60, INTERVAL_NOT_DIVIDING_DAY),  # 86400 − 24 * 3540 = 1440
        (5 * HOUR, INTERVAL_NOT_DIVIDING_DAY),  # 86400 / 18000 = 4.8
        (3610, INTERVAL_NOT_DIVIDING_DAY),  # 86400 − 23 * 3610 = 3370
        (15, INTERVAL_NOT_TEN_SECONDS),
        (9, INTERVAL_NOT_TEN_SECONDS),
        (0, INTERVAL_NOT_TEN_SECONDS),  # a parseable zero (`0d`) fails check 1
        (2 * DAY, INTERVAL_ABOVE_DAY),
    ],
)
def test_invalid_intervals(interval: int, message: str) -> None:
    with pytest.raises(InvalidInterval) as raised:
        validate_interval(interval)
    assert str(raised.value) == message


@pytest.mark.parametrize("interval", [10, 60, 90, 5400, HOUR, 6 * HOUR, 12 * HOUR, DAY])
def test_valid_intervals(interval: int) -> None:
    validate_interval(interval)


def test_interval_messages_are_verbatim() -> None:
    assert INTERVAL_NOT_TEN_SECONDS == (
        "The interval has to be a multiple of the minimum interval of ten seconds."
    )
    assert INTERVAL_ABOVE_DAY == "The interval has to be less than one day."
    assert INTERVAL_NOT_DIVIDING_DAY == "The interval should divide one day without a remainder."
    assert TOO_MANY_BUCKETS == (
        "Your interval and date range would create too many results. Use a larger interval, "
        "or a smaller date range."
    )


def test_absolute_range_on_the_grid_keeps_its_end() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    # 2021-02-24T00:00 … 2021-02-25T00:00 at 1 h: already aligned, 24 buckets.
    assert constrained_range(ts("2021-02-24T00:00:00Z"), ts("2021-02-25T00:00:00Z"), now, HOUR) == (
        ts("2021-02-24T00:00:00Z"),
        ts("2021-02-25T00:00:00Z"),
        24,
    )


def test_future_start_is_clamped_to_now() -> None:
    now = ts("2021-03-05T11:00:00Z")
    # start 12:00 > now -> 11:00; end 13:00 stays: 2 buckets.
    assert constrained_range(ts("2021-03-05T12:00:00Z"), ts("2021-03-05T13:00:00Z"), now, HOUR) == (
        now,
        ts("2021-03-05T13:00:00Z"),
        2,
    )


def test_absolute_range_daily() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    # start 01-12T04:06:16 floors to 01-12; end 01-17T08:26:13 ceils to 01-18 (6 days).
    assert constrained_range(ts("2021-01-12T04:06:16Z"), ts("2021-01-17T08:26:13Z"), now, DAY) == (
        ts("2021-01-12T00:00:00Z"),
        ts("2021-01-18T00:00:00Z"),
        6,
    )


def test_one_day_at_twelve_hours() -> None:
    now = ts("2020-12-18T11:14:17.105Z")
    # start 12-17T11:14 floors to 12-17T00:00; end − start' = 35 h 14 min -> 3 buckets of 12 h.
    assert constrained_range(now - DAY, now, now, 12 * HOUR) == (
        ts("2020-12-17T00:00:00Z"),
        ts("2020-12-18T12:00:00Z"),
        3,
    )


def test_twelve_hours_at_six_hours() -> None:
    now = ts("2020-12-18T13:25:15.769Z")
    # start 01:25:15 floors to 00:00; end − start' = 13 h 25 min -> 3 buckets -> 18:00.
    assert constrained_range(now - 12 * HOUR, now, now, 6 * HOUR) == (
        ts("2020-12-18T00:00:00Z"),
        ts("2020-12-18T18:00:00Z"),
        3,
    )


def test_thirty_minutes_at_one_minute() -> None:
    now = ts("2021-03-08T09:34:00Z")
    # start 09:04:00 and end 09:34:00 are both on the minute grid: 30 buckets.
    assert constrained_range(now - 30 * 60, now, now, 60) == (
        ts("2021-03-08T09:04:00Z"),
        now,
        30,
    )


def test_six_hours_at_ninety_minutes() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    # 90 min divides a day (16 per day), so the grid runs 00:00, 01:30, 03:00, 04:30, …
    # start 05:14:17 floors to 04:30; end − start' = 6 h 44 min 17 s = 4.49 buckets -> 5
    # -> 04:30 + 7 h 30 min = 12:00.
    assert constrained_range(now - 6 * HOUR, now, now, 90 * 60) == (
        ts("2021-03-05T04:30:00Z"),
        ts("2021-03-05T12:00:00Z"),
        5,
    )


def test_ninety_days_hourly_is_too_many_buckets() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    # 90 * 24 = 2160 (+1 for the partial hour) > 1000.
    with pytest.raises(InvalidInterval) as raised:
        constrained_range(now - 90 * DAY, now, now, HOUR)
    assert str(raised.value) == TOO_MANY_BUCKETS


def test_exactly_a_thousand_buckets_is_allowed() -> None:
    start = ts("2021-01-01T00:00:00Z")
    assert constrained_range(start, start + 1000 * 60, start + 1000 * 60, 60)[2] == 1000
    with pytest.raises(InvalidInterval):
        constrained_range(start, start + 1001 * 60, start + 1001 * 60, 60)


def test_interval_is_validated_before_the_range() -> None:
    now = ts("2021-03-05T11:14:17.105Z")
    with pytest.raises(InvalidInterval) as raised:
        constrained_range(now - 90 * DAY, now, now, 15)
    assert str(raised.value) == INTERVAL_NOT_TEN_SECONDS
