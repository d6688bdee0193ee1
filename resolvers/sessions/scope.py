"""Checks of a sessions request against the organization and the bucket limits
(`release-health.md` 8.4, 8.13 steps 3.2 to 4): typed values in, typed values out."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from resolvers.timewindow import MAX_BUCKETS, InvalidInterval, to_intervals, validate_interval

from . import errors
from .errors import SessionsQueryError, SessionsQueryForbidden, SessionsQueryNotFound

#: `project=-1`: every project the caller can read.
ALL_PROJECTS = -1


def distinct(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def select_projects(requested: Collection[int], readable: Mapping[int, str]) -> tuple[int, ...]:
    """The project ids of the request (8.13 step 3.2), ascending.

    `readable` maps every project id the caller can read to its slug. None requested or
    exactly `-1` selects all of them; any other id the caller cannot read (including `-1`
    mixed with ids) is a 403.
    """
    wanted = set(requested)
    if not wanted or wanted == {ALL_PROJECTS}:
        selected = set(readable)
    else:
        if any(project_id not in readable for project_id in wanted):
            raise SessionsQueryForbidden()
        selected = wanted
    if not selected:
        raise SessionsQueryError(errors.NO_PROJECTS)
    return tuple(sorted(selected))


def check_environments(names: Sequence[str], known: Collection[str] | None) -> tuple[str, ...]:
    """The distinct environment names in request order (8.13 step 3.3); a name not in
    `known` (when given) is a 404."""
    unique = distinct(names)
    if known is not None and any(name not in known for name in unique):
        raise SessionsQueryNotFound()
    return unique


def check_interval(interval: int) -> None:
    """The three interval checks of 8.4, in order."""
    try:
        validate_interval(interval)
    except InvalidInterval as exc:
        raise SessionsQueryError(str(exc)) from None


def constrain_range(
    start: datetime,
    end: datetime,
    now: datetime,
    interval: int,
    max_buckets: int = MAX_BUCKETS,
) -> tuple[int, int, int]:
    """Clamp a future start to `now`, align with `to_intervals` and enforce the bucket
    limit (8.4). Returns `(start, end, number of buckets)` in unix seconds."""
    start = min(start, now)
    aligned_start, aligned_end, count = to_intervals(start.timestamp(), end.timestamp(), interval)
    if count > max_buckets:
        raise SessionsQueryError(errors.TOO_MANY_BUCKETS)
    return aligned_start, aligned_end, count
