"""`per_page`, `cursor` and the `Link` header (`release-health.md` 8.12)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from . import errors
from .errors import SessionsQueryError

MAX_PER_PAGE = 5000
#: Page size of the cursors when `per_page` is absent.
DEFAULT_PAGE_SIZE = 5000


@dataclass(frozen=True, slots=True)
class Cursor:
    """`<value>:<offset>:<is_prev>`; `has_results` feeds the Link header."""

    value: int | float = 0
    offset: int = 0
    is_prev: bool = False
    has_results: bool = False

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"


def parse_per_page(raw: str | None) -> int | None:
    """None when absent; errors for a non-integer, a value above 5000 or below 1."""
    if raw is None:
        return None
    try:
        per_page = int(raw)
    except ValueError:
        raise SessionsQueryError(errors.INVALID_PER_PAGE) from None
    return check_per_page(per_page)


def check_per_page(per_page: int) -> int:
    """`per_page` itself: errors for a value above 5000 or below 1."""
    if per_page > MAX_PER_PAGE:
        raise SessionsQueryError(errors.PER_PAGE_TOO_LARGE)
    if per_page < 1:
        raise SessionsQueryError(errors.INVALID_PER_PAGE)
    return per_page


def parse_cursor(raw: str | None) -> Cursor | None:
    """Upstream `Cursor.from_string` (three `:`-separated parts, the first may be a float);
    a negative offset is malformed too."""
    if raw is None:
        return None
    bits = raw.split(":")
    if len(bits) != 3:
        raise SessionsQueryError(errors.INVALID_CURSOR)
    try:
        value: int | float = float(bits[0]) if "." in bits[0] else int(bits[0])
        offset = int(bits[1])
        is_prev = bool(int(bits[2]))
    except ValueError:
        raise SessionsQueryError(errors.INVALID_CURSOR) from None
    if offset < 0:
        raise SessionsQueryError(errors.INVALID_CURSOR)
    return Cursor(value, offset, is_prev)


def page_cursors(offset: int, page_size: int, has_more: bool) -> tuple[Cursor, Cursor]:
    """`(previous, next)`: previous `0:<max(0, offset - N)>:1` with results when
    `offset > 0`; next `0:<offset + N>:0` with results when the page was full."""
    previous = Cursor(0, max(0, offset - page_size), True, offset > 0)
    following = Cursor(0, max(0, offset + page_size), False, has_more)
    return previous, following


def _with_cursor(url: str, cursor: Cursor) -> str:
    parts = urlsplit(url)
    kept = [piece for piece in parts.query.split("&") if piece and piece.split("=", 1)[0] != "cursor"]
    kept.append(f"cursor={cursor}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def link_header(request_url: str, previous: Cursor, following: Cursor) -> str:
    """The `Link` header: the request URL with its `cursor` parameter replaced by each
    link's cursor."""
    links = []
    for name, cursor in (("previous", previous), ("next", following)):
        links.append(
            f'<{_with_cursor(request_url, cursor)}>; rel="{name}"; '
            f'results="{"true" if cursor.has_results else "false"}"; cursor="{cursor}"'
        )
    return ", ".join(links)
