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


class InvalidTimestamp(ValueError):
    """A `start`, `end` or `now` that is neither ISO-8601 nor a unix timestamp."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{value} is not a valid ISO8601 date query")
        self.value = value


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
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    try:
        seconds = float(value)
        # A value no datetime can hold would only fail later, far from the parameter.
        datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidTimestamp(value) from None
    return seconds


def format_timedelta(seconds: float) -> str:
    """Python's `str(timedelta)` (`1:00:00`, `1 day, 0:00:00`), which upstream's budget
    error message embeds verbatim."""
    return str(timedelta(seconds=seconds))
