"""Checkpoints, stats series and release-stats ranges (`release-health.md` 5.4, 5.6, 5.11)."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from resolvers.breakdown import (
    crash_free_breakdown_checkpoints,
    release_stats_range,
    stats_buckets,
    stats_series,
)

HOUR = 3600
DAY = timedelta(days=1)
NOW = datetime(2021, 1, 14, 12, 27, 28, 303000, tzinfo=UTC)  # 2021-01-14T12:27:28.303Z


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


# -- 5.6 crash-free breakdown --------------------------------------------------------


def test_four_days_back() -> None:
    # start + 1 d and start + 2 d are past; start + 7 d is 3 d in the future and 5 days
    # after start + 2 d, so a final `now` entry follows.
    start = NOW - 4 * DAY
    assert crash_free_breakdown_checkpoints(start, NOW) == [
        (start + DAY, False),
        (start + 2 * DAY, False),
        (NOW, True),
    ]


def test_twelve_hours_back() -> None:
    # start + 1 d is in the future and there is no previous checkpoint: just `now`.
    assert crash_free_breakdown_checkpoints(NOW - timedelta(hours=12), NOW) == [(NOW, True)]


def test_one_and_a_half_days_back_is_a_single_entry() -> None:
    # Upstream quirk: start + 2 d is in the future but only one day after start + 1 d.
    start = NOW - timedelta(days=1.5)
    assert crash_free_breakdown_checkpoints(start, NOW) == [(start + DAY, False)]


def test_checkpoint_equal_to_now_is_not_in_the_future() -> None:
    # start + 2 d == now is emitted as a checkpoint; start + 7 d is 5 days later -> `now`.
    start = NOW - 2 * DAY
    assert crash_free_breakdown_checkpoints(start, NOW) == [
        (start + DAY, False),
        (NOW, False),
        (NOW, True),
    ]


def test_ten_days_back() -> None:
    # 1, 2, 7 past; 14 is 4 d ahead and 7 days after day 7 -> `now`.
    start = NOW - 10 * DAY
    assert [date for date, _ in crash_free_breakdown_checkpoints(start, NOW)] == [
        start + DAY,
        start + 2 * DAY,
        start + 7 * DAY,
        NOW,
    ]


def test_forty_days_back_has_every_checkpoint_and_no_now() -> None:
    start = NOW - 40 * DAY
    assert crash_free_breakdown_checkpoints(start, NOW) == [
        (start + days * DAY, False) for days in (1, 2, 7, 14, 30)
    ]


# -- 5.4 stats series ----------------------------------------------------------------


def test_24h_with_data_has_25_hourly_entries() -> None:
    now = ts("2018-12-11T03:21:00")
    # now − 24 h = 2018-12-10T03:21 floors to 03:00; 24 h 21 min -> 25 buckets; the last
    # one, 2018-12-11T03:00, contains now.
    buckets = stats_buckets(now, 3600, 24, has_data=True)
    assert len(buckets) == 25
    assert buckets[0] == ts("2018-12-10T03:00:00")
    assert buckets[-1] == ts("2018-12-11T03:00:00")
    assert all(b - a == HOUR for a, b in pairwise(buckets))


def test_24h_without_data_has_24_entries_from_the_next_boundary() -> None:
    now = ts("2018-12-11T03:21:00")
    # First boundary strictly after 2018-12-10T03:21 is 04:00; 24 entries -> last 03:00.
    buckets = stats_buckets(now, 3600, 24, has_data=False)
    assert len(buckets) == 24
    assert buckets[0] == ts("2018-12-10T04:00:00")
    assert buckets[-1] == ts("2018-12-11T03:00:00")


def test_24h_with_now_on_the_hour() -> None:
    now = ts("2018-12-11T04:00:00")
    # With data: [2018-12-10T04:00, 2018-12-11T04:00) is exactly 24 buckets.
    with_data = stats_buckets(now, 3600, 24, has_data=True)
    assert (len(with_data), with_data[0]) == (24, ts("2018-12-10T04:00:00"))
    # Without: strictly after 2018-12-10T04:00 -> from 05:00, so the last one is now itself.
    without = stats_buckets(now, 3600, 24, has_data=False)
    assert (len(without), without[0], without[-1]) == (24, ts("2018-12-10T05:00:00"), now)


def test_seven_days_daily() -> None:
    now = ts("2018-12-11T03:21:00")
    # now − 7 d = 2018-12-04T03:21 floors to 12-04; 7 d 3 h 21 min -> 8 daily buckets.
    with_data = stats_buckets(now, 86400, 7, has_data=True)
    assert (len(with_data), with_data[0]) == (8, ts("2018-12-04T00:00:00"))
    without = stats_buckets(now, 86400, 7, has_data=False)
    assert (len(without), without[0], without[-1]) == (
        7,
        ts("2018-12-05T00:00:00"),
        ts("2018-12-11T00:00:00"),
    )


def test_stats_series_values() -> None:
    now = ts("2018-12-11T03:21:00")
    series = stats_series(now, 3600, 24, {ts("2018-12-11T03:00:00"): 4})
    assert len(series) == 25
    assert series[-1] == (ts("2018-12-11T03:00:00"), 4)
    assert all(value == 0 for _, value in series[:-1])
    # A pair without data: zeros only.
    empty = stats_series(now, 3600, 24, None)
    assert len(empty) == 24 and {value for _, value in empty} == {0}
    # Counter data without started sessions is still "with data": 25 zero entries.
    assert len(stats_series(now, 3600, 24, {})) == 25


# -- 5.11 release stats range --------------------------------------------------------


def test_release_stats_range_example() -> None:
    # start 2021-01-10T12:27:28 -> next day boundary 2021-01-11 (1610323200); end
    # 2021-01-14T12:27:28 -> 12:27:30; 3 d 12 h 27 min 30 s -> 4 buckets: 11, 12, 13, 14.
    start, end, count = release_stats_range(ts("2021-01-10T12:27:28"), ts("2021-01-14T12:27:28"), 86400)
    assert (start, count) == (1610323200, 4)
    assert list(range(start, end, 86400)) == [1610323200, 1610409600, 1610496000, 1610582400]


def test_release_stats_start_on_a_boundary_moves_one_rollup_later() -> None:
    # start 2021-01-11T00:00 is on the boundary -> 2021-01-12; end 2021-01-14T00:00:00 is a
    # multiple of 10 s -> 00:00:10, which reaches into the 2021-01-14 bucket.
    start, end, count = release_stats_range(ts("2021-01-11T00:00:00"), ts("2021-01-14T00:00:00"), 86400)
    assert (start, end, count) == (ts("2021-01-12T00:00:00"), ts("2021-01-15T00:00:00"), 3)


def test_release_stats_hourly() -> None:
    # start 10:15 -> 11:00; end 13:59:55 -> 14:00:00 (next multiple of 10 s) -> 11, 12, 13.
    assert release_stats_range(ts("2021-01-11T10:15:00"), ts("2021-01-11T13:59:55"), HOUR) == (
        ts("2021-01-11T11:00:00"),
        ts("2021-01-11T14:00:00"),
        3,
    )
