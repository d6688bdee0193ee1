"""Relay-style pages: `PageInfo` and opaque offset cursors."""

from __future__ import annotations

import base64

import strawberry

from gql.core.errors import BadUserInput


@strawberry.type(description="Where a page is among all items (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether items precede this page.")
    start_cursor: str | None = strawberry.field(description="The first item's cursor; null on an empty page.")
    end_cursor: str | None = strawberry.field(
        description="The last item's cursor (pass as `after` for the next page); null on an empty page."
    )

    @classmethod
    def of(cls, offset: int, cursors: list[str], total: int) -> PageInfo:
        """The page of `cursors` starting at `offset` among `total` items."""
        return cls(
            has_next_page=offset + len(cursors) < total,
            has_previous_page=offset > 0,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, value = text.partition(":")
        if prefix != "offset" or not value.isdigit():
            raise ValueError(text)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise BadUserInput("Invalid cursor") from None


def page_offset(after: str | None) -> int:
    """The offset of the first item after the cursor `after` (0 without one)."""
    offset = decode_cursor(after)
    return offset + 1 if after is not None else offset
