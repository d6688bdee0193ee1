"""Periods, instants and durations as text (`release-health.md` sections 1, 8.2, 8.13)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from resolvers.timetext import (
    InvalidTimestamp,
    format_iso,
    format_timedelta,
    parse_instant,
    parse_period,
    to_datetime,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1d", 86400),
        ("30m", 1800),
        ("90s", 90),
        ("2w", 2 * 7 * 86400),
        ("12h", 12 * 3600),
        ("90m", 5400),
        ("3610s", 3610),
        ("90", 90),  # no unit means seconds
        ("0d", 0),  # parseable; the interval validation rejects it
        ("007m", 420),
    ],
)
def test_parse_period(text: str, seconds: int) -> None:
    assert parse_period(text) == seconds


@pytest.mark.parametrize(
    "text", ["bogus", "", "h", "1.5h", "-1h", "1H", "1 d", " 1d", "1d ", "1y", "1dd", "d1"]
)
def test_unparseable_period(text: str) -> None:
    assert parse_period(text) is None


def test_period_beyond_timedelta_is_unparseable() -> None:
    # timedelta allows at most 999999999 days; upstream's OverflowError means "unparseable".
    assert parse_period("999999999d") == 999999999 * 86400
    assert parse_period("1000000000d") is None


def test_format_iso() -> None:
    # 2021-03-05T11:14:17.105Z: the fraction is dropped.
    instant = datetime(2021, 3, 5, 11, 14, 17, 105000, tzinfo=UTC)
    assert format_iso(instant.timestamp()) == "2021-03-05T11:14:17Z"
    assert format_iso(instant) == "2021-03-05T11:14:17Z"
    assert format_iso(0) == "1970-01-01T00:00:00Z"


def test_format_iso_converts_offsets_and_treats_naive_as_utc() -> None:
    plus_two = datetime(2021, 3, 5, 13, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_iso(plus_two) == "2021-03-05T11:00:00Z"
    assert format_iso(datetime(2021, 3, 5, 11, 0)) == "2021-03-05T11:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-02-24T00:00:00", datetime(2021, 2, 24, tzinfo=UTC)),  # naive = UTC
        ("2021-02-24T00:00:00Z", datetime(2021, 2, 24, tzinfo=UTC)),
        ("2021-02-24T02:00:00+02:00", datetime(2021, 2, 24, tzinfo=UTC)),
        ("2021-03-05T11:14:17.105Z", datetime(2021, 3, 5, 11, 14, 17, 105000, tzinfo=UTC)),
        ("2021-02-24", datetime(2021, 2, 24, tzinfo=UTC)),
        # 1614942857 s = 18691 days (2021-03-05) + 40457 s (11:14:17).
        ("1614942857", datetime(2021, 3, 5, 11, 14, 17, tzinfo=UTC)),
        ("1614942857.5", datetime(2021, 3, 5, 11, 14, 17, 500000, tzinfo=UTC)),
    ],
)
def test_parse_instant(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected.timestamp()


@pytest.mark.parametrize("text", ["shrug", "", "nan", "inf", "1e30", "2021-13-01T00:00:00"])
def test_unparseable_instant(text: str) -> None:
    with pytest.raises(InvalidTimestamp) as raised:
        parse_instant(text)
    assert str(raised.value) == f"{text} is not a valid ISO8601 date query"


def test_to_datetime_is_utc() -> None:
    assert to_datetime(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert to_datetime(0).tzinfo is UTC


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3600, "1:00:00"),
        (90, "0:01:30"),
        (86400, "1 day, 0:00:00"),
        (91 * 86400, "91 days, 0:00:00"),
        (2 * 86400 + 3661, "2 days, 1:01:01"),
    ],
)
def test_format_timedelta(seconds: int, text: str) -> None:
    assert format_timedelta(seconds) == text
