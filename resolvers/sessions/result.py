"""The sessions query's answer as typed values (`release-health.md` 8.5), and Sentry's
JSON shape of it, which the REST endpoint sends.

Times are unix seconds; values are numbers (int for counts, float for rates and
durations) or None, exactly as the executor computed them, so GraphQL maps them to its
types without reading any text back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.timetext import format_iso

from .pagination import Cursor
from .values import Value

#: A group's value of one groupBy: a project id, a name, or None.
GroupValue = int | str | None


@dataclass(frozen=True, slots=True)
class SessionsGroup:
    """One group: `by` maps each groupBy name (Sentry's spelling, such as `release` or
    `session.status`) that has a value to it; `totals` maps each field to its total, and
    `series` to its values per interval, None when the request omitted them."""

    by: Mapping[str, GroupValue]
    totals: Mapping[str, Value] | None
    series: Mapping[str, list[Value]] | None


@dataclass(frozen=True, slots=True)
class SessionsQueryResult:
    """The answer: buckets `start`, `start + interval`, ... before `end`; `query` is the
    search filter as given; `previous` and `next` are the cursors of the `Link` header."""

    start: int
    end: int
    interval: int
    query: str
    groups: Sequence[SessionsGroup]
    previous: Cursor
    next: Cursor

    @property
    def intervals(self) -> range:
        return range(self.start, self.end, self.interval)

    @property
    def body(self) -> dict[str, Any]:
        """Sentry's response JSON (8.5)."""
        return sentry_body(self)


def sentry_body(result: SessionsQueryResult) -> dict[str, Any]:
    """Sentry's response JSON (8.5): times as `YYYY-MM-DDTHH:MM:SSZ`, groups with `by`,
    then `totals` and `series` when requested."""
    groups: list[dict[str, Any]] = []
    for group in result.groups:
        shown: dict[str, Any] = {"by": group.by}
        if group.totals is not None:
            shown["totals"] = group.totals
        if group.series is not None:
            shown["series"] = group.series
        groups.append(shown)
    return {
        "start": format_iso(result.start),
        "end": format_iso(result.end),
        "intervals": [format_iso(t) for t in result.intervals],
        "groups": groups,
        "query": result.query,
    }
