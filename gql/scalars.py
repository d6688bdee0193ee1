"""The DateTime scalar: ISO-8601 in (offset or `Z`; naive means UTC; unix seconds accepted),
always UTC with a `Z` out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from resolvers.timetext import InvalidTimestamp, parse_instant


def serialize_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string or unix seconds")
    try:
        return datetime.fromtimestamp(parse_instant(value), UTC)
    except InvalidTimestamp as exc:
        raise ValueError(f"{value} is not a valid ISO8601 date") from exc


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time; UTC (`Z`) on output.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
