"""Pure time helpers private to the sessions query (the lead may dedupe them with
`resolvers`' shared helpers later): period parsing, ISO/unix parsing and formatting,
`to_intervals` alignment (`release-health.md` 4.2) in exact integer arithmetic."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PERIOD_RE = re.compile(r"^(\d+)([hdmsw]?)$")
_UNITS = {"h": "hours", "d": "days", "m": "minutes", "s": "seconds", "w": "weeks", "": "seconds"}
_MICROS = 1_000_000


def parse_period(value: str) -> timedelta | None:
    """Upstream `parse_stats_period`: digits and an optional unit `s`/`m`/`h`/`d`/`w` (no unit
    means seconds). None when the syntax does not match; `timedelta.max` on overflow."""
    match = _PERIOD_RE.match(value)
    if match is None:
        return None
    number, unit = match.groups()
    try:
        return timedelta(**{_UNITS[unit]: int(number)})
    except OverflowError:
        return timedelta.max


def parse_datetime(value: str) -> datetime | None:
    """ISO-8601 (no timezone = UTC; `Z` or an offset converted to UTC) or a unix timestamp.
    None when neither parses."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def to_micros(moment: datetime) -> int:
    """Exact microseconds since the epoch."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def to_intervals(start: datetime, end: datetime, interval: int) -> tuple[int, int, int]:
    """Align `[start, end)` to the epoch grid of `interval` seconds (4.2).

    Returns `(start', end', n)` in unix seconds: `start' = floor(start / I) * I`,
    `n = ceil((end - start') / I)`, `end' = start' + n * I`.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    step = interval * _MICROS
    aligned_start = to_micros(start) // step * interval
    span = to_micros(end) - aligned_start * _MICROS
    count = -(-span // step)
    return aligned_start, aligned_start + count * interval, count


def isoformat(timestamp: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` for unix seconds."""
    return (EPOCH + timedelta(seconds=timestamp)).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_timestamp(timestamp: int) -> datetime:
    return EPOCH + timedelta(seconds=timestamp)
