"""API v2's one connection style (Relay): `edges { cursor node }`, `nodes`, `pageInfo` and
`totalCount`, paged by `first` (at most `MAX_PAGE`) and `after`. Every v2 list that can
grow is one of these; `Connection[Release]` is named `ReleaseConnection`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import strawberry

from gql.core.errors import BadUserInput
from gql.core.pagination import PageInfo, encode_cursor, page_offset

#: The largest page `first` may ask for (more is `BAD_USER_INPUT`, not silently fewer).
MAX_PAGE = 100
#: `first` when not given.
DEFAULT_PAGE = 25

T = TypeVar("T")


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to get the items after this one.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of items.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    nodes: list[T] = strawberry.field(description="The page's items.")
    page_info: PageInfo = strawberry.field(description="Where this page is among all items.")
    total_count: int = strawberry.field(description="How many items there are in all pages.")

    @classmethod
    def of(cls, items: Sequence[T], offset: int, total: int) -> Connection[T]:
        """The page of `items` that starts at `offset` among `total`."""
        edges = [Edge(cursor=encode_cursor(offset + i), node=item) for i, item in enumerate(items)]
        return cls(
            edges=edges,
            nodes=list(items),
            page_info=PageInfo.of(offset, [e.cursor for e in edges], total),
            total_count=total,
        )


def page_window(first: int, after: str | None) -> tuple[int, int]:
    """`(offset, limit)` of the page `first` and `after` ask for."""
    if not 0 <= first <= MAX_PAGE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE}.")
    return page_offset(after), first


def page_of(items: Sequence[T], first: int, after: str | None) -> Connection[T]:
    """The page of an in-memory list."""
    offset, limit = page_window(first, after)
    return Connection.of(items[offset : offset + limit], offset, len(items))
