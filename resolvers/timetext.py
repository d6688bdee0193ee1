"""Time as text: periods, instants and durations as the sessions endpoint reads and writes
them (`release-health.md` sections 1, 8.2 and 8.13)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Final

_PERIOD: Final = re.compile(r"([0-9]+)([smhdw]?)")
_UNIT_SECONDS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Upstream builds a `timedelta` and treats its OverflowError as unparseable; keep that
# bound so a period upstream rejects is rejected here too.
_MAX_PERIOD_SECONDS: Final = timedelta.max.days * 86400 + timedelta.max.seconds

_ISO_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

# The instants a caller may write (`now`, `start`, `end`, every GraphQL DateTime):
# [1970-01-01T00:00:00Z, 9999-01-01T00:00:00Z). No session is older than the unix epoch
# the SDKs count from, and the 1969 years below the lower bound leave room for every
# look-back (stats periods, retention cut-offs, 1000 buckets of a day). The upper bound
# leaves a year below `datetime.max` for the arithmetic that looks forward from an instant
# (aligning an end to the next day or 3-day bucket, `now` + 10 s, adoption windows), so
# no derived instant overflows `datetime` or the stores.
MIN_INSTANT: Final = 0.0
MAX_INSTANT: Final = datetime(9999, 1, 1, tzinfo=UTC).timestamp()
INSTANT_RANGE: Final = "1970-01-01T00:00:00Z to 9998-12-31T23:59:59Z"


class InvalidTimestamp(ValueError):
    """A `start`, `end` or `now` that is neither ISO-8601 nor a unix timestamp."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{value} is not a valid ISO8601 date query")
        self.value = value


class InstantOutOfRange(InvalidTimestamp):
    """A well-formed instant outside `[MIN_INSTANT, MAX_INSTANT)`."""

    def __init__(self, value: str) -> None:
        ValueError.__init__(self, f"{value} is outside the supported dates ({INSTANT_RANGE})")
        self.value = value


def checked_instant(seconds: float, written: str) -> float:
    """`seconds` if it lies in the supported range (NaN does not); InstantOutOfRange
    naming the value as the caller `written` it otherwise."""
    if not MIN_INSTANT <= seconds < MAX_INSTANT:
        raise InstantOutOfRange(written)
    return seconds


def parse_period(text: str) -> int | None:
    """Seconds of `digits[s|m|h|d|w]` (no unit means seconds), or None if unparseable.

    `0d` parses (to 0); rejecting it is the interval validation's job.
    """
    match = _PERIOD.fullmatch(text)
    if match is None:
        return None
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    return seconds if seconds <= _MAX_PERIOD_SECONDS else None


def format_iso(instant: float | datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`; fractions of a second are dropped (floored)."""
    if isinstance(instant, datetime):
        moment = instant.astimezone(UTC) if instant.tzinfo else instant.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(math.floor(instant), UTC)
    return moment.strftime(_ISO_FORMAT)


def to_datetime(instant: float) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def parse_instant(value: str) -> float:
    """Unix seconds of an ISO-8601 date or date-time, or of a unix timestamp.

    A date-time without an offset is UTC; `Z` and explicit offsets are honoured. Upstream
    tries ISO first and falls back to a float, so `20210301` is a compact ISO date, not a
    unix timestamp.

    Raises `InstantOutOfRange` (an `InvalidTimestamp`) for a valid instant outside the
    supported dates, so a value no store or `datetime` can hold fails here, at the
    parameter, rather than later in arithmetic far from it.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            seconds = moment.timestamp()
        except (OverflowError, ValueError):  # an offset pushing it past year 1 or 9999
            raise InstantOutOfRange(value) from None
        return checked_instant(seconds, value)
    try:
        seconds = float(value)
        # Upstream calls a number no datetime can hold (nan, 1e30) unparseable.
        datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidTimestamp(value) from None
    return checked_instant(seconds, value)


def format_timedelta(seconds: float) -> str:
    """Python's `str(timedelta)` (`1:00:00`, `1 day, 0:00:00`), which upstream's budget
    error message embeds verbatim."""
    return str(timedelta(seconds=seconds))
