"""RFC 3339 timestamps as session payloads carry them (`ingest.md` 8).

Stricter than `datetime.fromisoformat`: a timezone is required (`Z`, `+00:00` or `+0100`),
the separator must be `T`, and numbers are not timestamps. The result is unix seconds as a
float (microsecond precision). This runs twice per session update, so the grammar is checked
by one regular expression, the arithmetic is left to the C-coded `fromisoformat`, and recent
results are remembered: updates of one session and buckets of one flush share their starts.
"""

from __future__ import annotations

import re
from datetime import datetime

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))",
)

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_CACHE_SIZE = 8192
_cache: dict[str, float] = {}


def parse_timestamp(value: str) -> float | None:
    """Unix seconds of an RFC 3339 string with a timezone, or None when it is not one."""
    cached = _cache.get(value)
    if cached is not None:
        return cached
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    try:
        result: float | None = datetime.fromisoformat(value).timestamp()
    except ValueError:
        # Lower-case `z`, leap seconds and impossible dates; the slow path decides.
        result = _from_fields(match)
    if result is not None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[value] = result
    return result


def _from_fields(match: re.Match[str]) -> float | None:
    year_s, month_s, day_s, hour_s, minute_s, second_s, fraction, sign, off_h, off_m = match.groups()
    year, month, day = int(year_s), int(month_s), int(day_s)
    hour, minute, second = int(hour_s), int(minute_s), int(second_s)
    if not 1 <= month <= 12 or day < 1 or hour > 23 or minute > 59 or second > 60:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] + (1 if month == 2 and leap else 0):
        return None
    if second == 60:
        # A leap second; unix time has none, so it folds onto the second before.
        second = 59
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    if sign is not None:
        hours, minutes = int(off_h), int(off_m)
        if hours > 23 or minutes > 59:
            return None
        offset = hours * 3600 + minutes * 60
        seconds -= offset if sign == "+" else -offset
    if fraction is None:
        return float(seconds)
    return seconds + float(fraction)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
