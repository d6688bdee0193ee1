"""Custom scalars. DateTime: RFC 3339 date-times with an offset in (nothing else), always
UTC with a `Z` out. Count: 64-bit-safe counters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final, NewType

import strawberry

from gql.core.errors import BadUserInput
from resolvers.timetext import INSTANT_RANGE, InstantOutOfRange, checked_instant

#: RFC 3339 section 5.6 `date-time` (ABNF literals are case-insensitive, so `t` and `z`
#: too); ASCII digits only. The calendar (day of month, hour 23 at most, ...) is checked
#: by `datetime.fromisoformat` after the shape.
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NO_OFFSET: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.]+")
_EXAMPLE: Final = "e.g. 2025-06-02T10:00:00Z or 2025-06-02T12:00:00+02:00"
SPEC_URL: Final = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"


def serialize_datetime(value: datetime) -> str:
    # Values computed in the server are UTC; a naive one is never the host's local time.
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: Any) -> datetime:
    """The one place every DateTime argument is checked, `now` included. Only an RFC 3339
    date-time with an offset is an instant: a date or a date-time without an offset leaves
    the time zone to a guess, and a number leaves the unit to one. A value outside the
    supported dates (`resolvers.timetext.INSTANT_RANGE`) is BAD_USER_INPUT here rather
    than an overflow deep in a resolver. (graphql-core copies the error's `extensions`
    onto the validation or variable error it reports.)"""
    if not isinstance(value, str):
        raise BadUserInput(f"DateTime must be a string, an RFC 3339 date-time with an offset ({_EXAMPLE})")
    shown = repr(value[:64])
    if not _RFC3339.fullmatch(value):
        if _DATE.fullmatch(value):
            raise BadUserInput(f"DateTime {shown} is a date: add a time and an offset ({_EXAMPLE})")
        if _NO_OFFSET.fullmatch(value):
            raise BadUserInput(f"DateTime {shown} has no UTC offset: add Z (UTC) or +HH:MM ({_EXAMPLE})")
        raise BadUserInput(f"DateTime {shown} is not an RFC 3339 date-time with an offset ({_EXAMPLE})")
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError as exc:  # a day, hour, minute or second out of range
        raise BadUserInput(f"DateTime {shown} is not a valid date-time: {exc}") from None
    try:
        return datetime.fromtimestamp(checked_instant(moment.timestamp(), value[:64]), UTC)
    except (InstantOutOfRange, OverflowError, ValueError):  # an offset past year 1 or 9999
        raise BadUserInput(
            f"DateTime {value[:64]} is outside the supported dates ({INSTANT_RANGE})"
        ) from None


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="An instant: an RFC 3339 date-time with a UTC offset, e.g. "
    "`2025-06-02T10:00:00Z` or `2025-06-02T12:00:00+02:00`, fractions of a second allowed, "
    f"from {INSTANT_RANGE}. Dates, date-times without an offset and unix seconds are "
    "refused (`BAD_USER_INPUT`). Always UTC with `Z` on output, with a fraction (microseconds) "
    "only when it is not zero.",
    specified_by_url=SPEC_URL,
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
