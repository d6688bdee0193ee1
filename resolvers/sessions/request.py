"""`SessionsRequest`: one sessions query as typed values, what both front ends build (REST
from Sentry's parameters in `params`, GraphQL from its input in `gql.sessions.inputs`)
and what `define` validates against the organization (`release-health.md` 8.13).

A front end reports the errors of 8.13 steps 2 to 3.2 (pagination, dates, project ids)
while it builds the request; every later check needs the organization or belongs to a
later step, so it is `define`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from resolvers.ids import MAX_ID
from resolvers.timetext import parse_period

from . import errors
from .errors import SessionsQueryError
from .filter_parser import Token, parse_query
from .pagination import Cursor
from .time_range import DEFAULT_RANGE, TimeRange

#: Default interval, and the value an unparseable `interval` silently becomes (8.4).
DEFAULT_INTERVAL = 3600


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """The `query` filter, parsed once. A syntax error is kept, not raised: 8.13 reports
    it at step 5, after the project, environment and interval checks."""

    text: str = ""
    tokens: tuple[Token, ...] = field(default=(), compare=False)
    error: SessionsQueryError | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, text: str) -> SearchFilter:
        try:
            return cls(text, tuple(parse_query(text)))
        except SessionsQueryError as exc:
            return cls(text, (), exc)

    def checked_tokens(self) -> list[Token]:
        """The top-level tokens; raises the syntax error, if any."""
        if self.error is not None:
            raise self.error
        return list(self.tokens)


@dataclass(frozen=True, slots=True)
class SessionsRequest:
    """A sessions query as asked, before it is checked against the organization.

    * `fields`, `group_by`, `environments`: as given, in request order (duplicates are
      dropped by `define`); `order_by`: the `orderBy` values (`-` for descending);
    * `projects`: the requested ids, empty or `(-1,)` for every readable project;
    * `interval`: seconds; `now`: the request's reference time (the `now` argument, else
      the server clock);
    * `per_page` (1 to 5000) and `cursor`: pagination (8.12), None when absent.
    """

    fields: tuple[str, ...]
    now: datetime
    group_by: tuple[str, ...] = ()
    time_range: TimeRange = DEFAULT_RANGE
    interval: int = DEFAULT_INTERVAL
    environments: tuple[str, ...] = ()
    projects: tuple[int, ...] = ()
    filter: SearchFilter = SearchFilter()
    order_by: tuple[str, ...] = ()
    per_page: int | None = None
    cursor: Cursor | None = None
    include_totals: bool = True
    include_series: bool = True


def project_ids(values: Iterable[str]) -> tuple[int, ...]:
    """Requested project ids as written (8.13 step 3.2, its syntax part)."""
    try:
        requested = tuple(int(value) for value in values)
    except ValueError:
        raise SessionsQueryError(errors.INVALID_PROJECT_PARAMETER) from None
    if any(abs(project_id) > MAX_ID for project_id in requested):
        # Upstream answers 403 (not readable); a number no store can hold is a typo.
        raise SessionsQueryError(errors.PROJECT_ID_OUT_OF_RANGE)
    return requested


def interval_of(written: str | None) -> int:
    """The interval in whole seconds; absent or unparseable means one hour (8.4)."""
    period = None if written is None else parse_period(written)
    return DEFAULT_INTERVAL if period is None else period
