"""Record ids as callers write them.

Ids are PostgreSQL `integer` columns (SQLite's are 64-bit), so the largest id any store
can hold is 2^31 - 1. Larger numbers are refused where they enter, with a clear message,
instead of failing inside the database driver (OverflowError on SQLite, DataError on
PostgreSQL) as an unexpected error.
"""

from __future__ import annotations

from typing import Final

#: The largest id a PostgreSQL `integer` column holds (the smaller of the two stores).
MAX_ID: Final = 2**31 - 1


def parse_record_id(text: str) -> int | None:
    """The id written as ASCII digits, in `1..MAX_ID`; None for anything else.

    The length check comes first: `int()` of a long digit string is quadratic.
    """
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
