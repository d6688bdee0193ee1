"""Record ids as GraphQL passes them (`ID`, a string): parsed once, refused clearly."""

from __future__ import annotations

import strawberry

from gql.core.errors import BadUserInput
from resolvers.ids import MAX_ID, parse_record_id


def parse_id(value: strawberry.ID | str, what: str = "project") -> int:
    text = str(value)
    parsed = parse_record_id(text)
    if parsed is None:
        raise BadUserInput(f"Invalid {what} id: {text[:40]!r} (ids are 1 to {MAX_ID})")
    return parsed


def as_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))
