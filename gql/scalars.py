"""Custom scalars. DateTime: ISO-8601 in (offset or `Z`; naive means UTC; unix seconds
accepted), always UTC with a `Z` out. Count: 64-bit-safe counters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

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


#: Counters (sessions, users, errors, outcomes) that may exceed GraphQL's 32-bit `Int`:
#: large projects pass 2^31 sessions, and one legal aggregate bucket may carry 2^32 - 1.
Count = NewType("Count", int)

#: JavaScript's Number.MAX_SAFE_INTEGER: every integer up to it is exact in a double.
MAX_SAFE_INTEGER = 2**53 - 1


def serialize_count(value: int) -> int | str:
    """A JSON number while every client reads it exactly (|value| <= 2^53 - 1); a decimal
    string beyond, as GitHub and Shopify do, so a JavaScript client never silently rounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Count cannot represent a non-integer value: {value!r}")
    return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)


def parse_count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit() and len(value) <= 40:
        return int(value)
    raise ValueError("Count must be an integer or a decimal string of an integer")


CountScalar = strawberry.scalar(
    name="Count",
    description="A counter that may exceed 2^31 (sessions, users, errors, outcomes): a JSON "
    "number when its absolute value is at most 2^53 - 1 (Number.MAX_SAFE_INTEGER, so every "
    "JavaScript client reads it exactly), otherwise a string of its decimal digits.",
    serialize=serialize_count,
    parse_value=parse_count,
)
