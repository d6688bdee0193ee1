"""The DateTime scalar: ISO-8601 in (offset or `Z`; naive means UTC; unix seconds accepted),
always UTC with a `Z` out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry

from gql.errors import BadUserInput
from resolvers.timetext import (
    INSTANT_RANGE,
    InstantOutOfRange,
    InvalidTimestamp,
    checked_instant,
    parse_instant,
)


def serialize_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime:
    """The one place every DateTime argument is checked, `now` included: a value outside
    the supported dates (`resolvers.timetext.INSTANT_RANGE`) is BAD_USER_INPUT here rather
    than an overflow deep in a resolver. (graphql-core copies the error's `extensions`
    onto the validation or variable error it reports.)"""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = checked_instant(float(value), str(value))
        except (InvalidTimestamp, OverflowError) as exc:  # float() of a huge int overflows
            raise BadUserInput(f"DateTime {_out_of_range(value)}") from exc
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        raise BadUserInput("DateTime must be an ISO-8601 string or unix seconds")
    try:
        return datetime.fromtimestamp(parse_instant(value), UTC)
    except InstantOutOfRange as exc:
        raise BadUserInput(f"DateTime {exc}") from exc
    except InvalidTimestamp as exc:
        raise BadUserInput(f"DateTime {value[:64]!r} is not a valid ISO-8601 date") from exc


def _out_of_range(value: float) -> str:
    return f"{str(value)[:64]} is outside the supported dates ({INSTANT_RANGE})"


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time; UTC (`Z`) on output.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
