"""Rollups (granularities in seconds) that callers pass to the backend functions.

They follow the sessions endpoint's interval rules (release-health.md 8.4), in upstream's
order and with its messages, so that every surface refuses the same intervals the same way.
"""

from __future__ import annotations

from typing import Final

from resolvers.errors import InvalidQuery
from resolvers.timetext import parse_period
from resolvers.timewindow import MAX_BUCKETS, TOO_MANY_BUCKETS, InvalidInterval, validate_interval

INVALID_INTERVAL: Final = "Invalid interval"


def checked_rollup(rollup: int) -> int:
    """`rollup` if it is a multiple of 10 s that divides one day; InvalidQuery otherwise."""
    try:
        validate_interval(rollup)
    except InvalidInterval as exc:
        raise InvalidQuery(str(exc)) from None
    return rollup


def parse_rollup(text: str) -> int:
    """A period such as `1h`, `30m`, `1d` or `3600` (seconds), checked as `checked_rollup`.
    Unlike the sessions endpoint (which falls back to 1 h), an unparseable value is an
    error here: the caller asked for a specific series."""
    seconds = parse_period(text.strip())
    if seconds is None:
        raise InvalidQuery(INVALID_INTERVAL)
    return checked_rollup(seconds)


def check_bucket_count(count: int) -> None:
    """At most `MAX_BUCKETS` series buckets, as the sessions endpoint."""
    if count > MAX_BUCKETS:
        raise InvalidQuery(TOO_MANY_BUCKETS)
