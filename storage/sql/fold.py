"""Folding a write batch into one row per key and fact table (pure; no I/O).

Increments are folded at the finest granularity first; each coarser granularity is then
folded from the level below it, so the per-increment work is done once. Distinct-count
sets (users per kind, the error set) come out as member sets per
(granularity, series, bucket, kind), to be merged into the stored sketches
(`storage.sql.sketches`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from storage import sketch
from storage.distinct import USER_TAG_KINDS
from storage.sql.durations import DURATION_BINS
from storage.types import GRANULARITIES, MINUTE, USER_SEEN, Kind, WriteBatch

SeriesTriple = tuple[int, str, str | None]
#: (granularity, series id, bucket, kind) of one stored sketch.
SketchKey = tuple[int, int, int, int]

#: Durations above this (seconds) are not recorded: their sums could overflow a double,
#: which PostgreSQL refuses (ingest/quantities.py MAX_DURATION_SECONDS).
_MAX_DURATION = float(2**32)


class FactRows:
    """Positional parameter rows per fact table (columns in the statements' order)."""

    __slots__ = ("counters", "durations", "outcomes", "sketches")

    def __init__(self) -> None:
        self.counters: list[tuple[Any, ...]] = []
        self.outcomes: list[tuple[Any, ...]] = []
        #: The members each touched sketch gains (`inc.user` for the user kinds,
        #: `inc.error_sid` for ERROR_SESSIONS: the strings v1 stored).
        self.sketches: dict[SketchKey, set[str]] = {}
        #: The duration bin counts each touched bucket gains (kind `DURATION_BINS`).
        self.durations: dict[SketchKey, dict[int, int]] = {}

    def all(self) -> tuple[list[tuple[Any, ...]], ...]:
        """The plain upsert rows, in the order of the writer's statements."""
        return (self.counters, self.outcomes)


#: A `minute_cutoff` after every bucket: no minute row at all, each increment folded
#: straight into its hour.
NO_MINUTES = 2**62


def fact_rows(
    batch: WriteBatch,
    series_ids: dict[SeriesTriple, int],
    *,
    sort: bool = True,
    minute_cutoff: int | None = None,
    series: Sequence[int] | None = None,
) -> FactRows:
    """Fold a batch into one row per key and table (sorted by key when `sort`).

    Increments are folded at the finest granularity first; each coarser granularity is
    then folded from the level below it (every granularity divides the next one), so the
    per-increment work is done once, not once per granularity.

    Minute rows are made only for buckets at or after `minute_cutoff` (None: all): older
    ones are past the minute retention, and the cleanup would delete them anyway. An
    increment older than that is folded straight into its hour, which is all the
    coarser levels need of it (its hour key lies before the cutoff, so no minute row
    comes of it).

    `series`, when given, is the series id of each increment by position, and
    `series_ids` is not read: the client-dimension rows of a whole group are folded in
    one call so (`storage.sql.dimensions.client_rows`), each increment keyed by its
    client series.
    """
    finest = GRANULARITIES[0]
    if minute_cutoff is not None and finest != MINUTE:
        raise ValueError("the minute cutoff needs minute to be the finest granularity")
    cutoff = minute_cutoff
    second = GRANULARITIES[1] if len(GRANULARITIES) > 1 else finest
    # (series, bucket) -> [started, crashed, abnormal, unhandled, preaggr, n, sum, min, max]
    counters: dict[tuple[int, int], list[Any]] = {}
    errors: dict[tuple[int, int], set[str]] = {}
    users: dict[tuple[int, int], dict[str, int]] = {}
    durations: dict[tuple[int, int], dict[int, int]] = {}
    isfinite = math.isfinite
    bin_of = sketch.bin_of
    ids: Iterable[int] = (
        (series_ids[(i.project_id, i.release, i.environment)] for i in batch.increments)
        if series is None
        else series
    )
    for inc, series_id in zip(batch.increments, ids, strict=True):
        started = int(inc.started)
        bucket = started - started % finest
        if cutoff is not None and bucket < cutoff:
            bucket = started - started % second
        key = (series_id, bucket)
        dur = inc.duration
        if dur is not None and not (0 <= dur <= _MAX_DURATION and isfinite(dur)):
            dur = None
        if (
            inc.started_count
            or inc.crashed
            or inc.abnormal
            or inc.unhandled
            or inc.errored_preaggr
            or dur is not None
        ):
            row = counters.get(key)
            if row is None:
                row = counters[key] = [0, 0, 0, 0, 0, 0, 0.0, None, None]
            row[0] += inc.started_count
            row[1] += inc.crashed
            row[2] += inc.abnormal
            row[3] += inc.unhandled
            row[4] += inc.errored_preaggr
            if dur is not None:
                row[5] += 1
                row[6] += dur
                if row[7] is None or dur < row[7]:
                    row[7] = dur
                if row[8] is None or dur > row[8]:
                    row[8] = dur
                bins = durations.get(key)
                if bins is None:
                    bins = durations[key] = {}
                b = bin_of(dur)
                bins[b] = bins.get(b, 0) + 1
        if inc.error_sid is not None:
            sids = errors.get(key)
            if sids is None:
                errors[key] = {inc.error_sid}
            else:
                sids.add(inc.error_sid)
        if inc.user is not None:
            tags = users.get(key)
            if tags is None:
                users[key] = {inc.user: inc.user_tags}
            else:
                tags[inc.user] = tags.get(inc.user, 0) | inc.user_tags

    rows = FactRows()
    previous = finest
    for g in GRANULARITIES:
        if g != finest:
            if g % previous:
                raise ValueError("each granularity must divide the next one")
            counters = _coarser_counters(counters, g)
            errors = _coarser(errors, g, _union)
            users = _coarser(users, g, _or_tags)
            durations = _coarser(durations, g, _add_counts)
            previous = g
        low = cutoff if g == finest and cutoff is not None else None
        ckeys = sorted(counters) if sort else counters
        rows.counters.extend((g, s, b, *counters[(s, b)]) for s, b in ckeys if low is None or b >= low)
        for (s, b), bins in durations.items():
            if low is None or b >= low:
                # A copy: the coarser level adds into this level's dicts.
                rows.durations[(g, s, b, DURATION_BINS)] = dict(bins)
        _sketch_members(rows.sketches, g, errors, users, low)

    outcomes: dict[tuple[int, int, str, str, str], int] = defaultdict(int)
    for o in batch.outcomes:
        hour = int(o.received) - int(o.received) % 3600
        outcomes[(o.project_id, hour, o.item_type, o.kind, o.reason)] += o.quantity
    rows.outcomes = [(*k, n) for k, n in sorted(outcomes.items())]
    return rows


def _sketch_members(
    into: dict[SketchKey, set[str]],
    g: int,
    errors: dict[tuple[int, int], set[str]],
    users: dict[tuple[int, int], dict[str, int]],
    low: int | None,
) -> None:
    """Add one granularity's member sets per (series, bucket, kind) to `into`. The sets
    are copies: the level's own objects are reused by the coarser levels."""
    error_kind = int(Kind.ERROR_SESSIONS)
    for (s, b), sids in errors.items():
        if low is None or b >= low:
            into[(g, s, b, error_kind)] = set(sids)
    tag_kinds = [(int(kind), mask) for kind, mask in USER_TAG_KINDS]
    users_kind = int(Kind.USERS)
    for (s, b), tags in users.items():
        if low is not None and b < low:
            continue
        into[(g, s, b, users_kind)] = set(tags)
        for did, t in tags.items():
            if t & ~USER_SEEN:
                for kind, mask in tag_kinds:
                    if t & mask:
                        members = into.get((g, s, b, kind))
                        if members is None:
                            into[(g, s, b, kind)] = {did}
                        else:
                            members.add(did)


def _coarser_counters(level: dict[tuple[int, int], list[Any]], g: int) -> dict[tuple[int, int], list[Any]]:
    out: dict[tuple[int, int], list[Any]] = {}
    for (s, b), v in level.items():
        key = (s, b - b % g)
        row = out.get(key)
        if row is None:
            out[key] = v  # the finer level is already written out: reuse its objects
            continue
        row[0] += v[0]
        row[1] += v[1]
        row[2] += v[2]
        row[3] += v[3]
        row[4] += v[4]
        if v[5]:
            row[5] += v[5]
            row[6] += v[6]
            if row[7] is None or v[7] < row[7]:
                row[7] = v[7]
            if row[8] is None or v[8] > row[8]:
                row[8] = v[8]
    return out


def _coarser(level: dict[tuple[int, int], Any], g: int, merge: Any) -> dict[tuple[int, int], Any]:
    out: dict[tuple[int, int], Any] = {}
    for (s, b), v in level.items():
        key = (s, b - b % g)
        into = out.get(key)
        if into is None:
            out[key] = v  # the finer level is already written out: reuse its objects
        else:
            merge(into, v)
    return out


def _union(into: set[str], other: set[str]) -> None:
    into |= other


def _or_tags(into: dict[str, int], other: dict[str, int]) -> None:
    for did, tags in other.items():
        into[did] = into.get(did, 0) | tags


def _add_counts(into: dict[int, int], other: dict[int, int]) -> None:
    for k, n in other.items():
        into[k] = into.get(k, 0) + n
