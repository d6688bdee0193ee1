"""The read path: aggregate queries over the fact tables, one statement per table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.distinct import USER_TAG_KINDS
from storage.models import FACT_COUNTER, FACT_DURATION, FACT_ERROR, FACT_USER
from storage.sql.filters import grouped_select
from storage.types import (
    Aggregate,
    AggregateQuery,
    AggregateResult,
    GroupKey,
    Quantity,
)

#: The user tags counted per group, in the order of `Users` after `all`.
_USER_MASKS = tuple(mask for _kind, mask in USER_TAG_KINDS)


class AggregateReader:
    """Answers `AggregateQuery`s; every call opens its own short-lived connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """Aggregate the facts the query selects; see `AggregateQuery`."""
        result = AggregateResult()
        if not query.project_ids or query.start >= query.end:
            return result
        async with self.engine.connect() as conn:
            if Quantity.COUNTERS in query.quantities or Quantity.DURATIONS in query.quantities:
                await self._read_counters(conn, query, result)
            if Quantity.ERRORS in query.quantities:
                await self._read_errors(conn, query, result)
            if Quantity.USERS in query.quantities:
                await self._read_users(conn, query, result)
            if Quantity.DURATIONS in query.quantities:
                await self._read_duration_bins(conn, query, result)
        return result

    async def _read_counters(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_COUNTER
        want_counters = Quantity.COUNTERS in query.quantities
        want_durations = Quantity.DURATIONS in query.quantities
        stmt, n_keys = grouped_select(
            query,
            f,
            [
                func.sum(f.c.started),
                func.sum(f.c.crashed),
                func.sum(f.c.abnormal),
                func.sum(f.c.unhandled),
                func.sum(f.c.errored_preaggr),
                func.sum(f.c.dur_count),
                func.sum(f.c.dur_sum),
                func.min(f.c.dur_min),
                func.max(f.c.dur_max),
            ],
        )
        for row in await conn.execute(stmt):
            keys, vals = row[:n_keys], row[n_keys:]
            started, crashed, abnormal, unhandled, preaggr = (int(v or 0) for v in vals[:5])
            dur_count = int(vals[5] or 0)
            has_counters = want_counters and (started + crashed + abnormal + unhandled + preaggr) > 0
            has_durations = want_durations and dur_count > 0
            if not (has_counters or has_durations):
                continue
            agg = _slot(result, query, keys)
            if want_counters:
                c = agg.counters
                c.started, c.crashed, c.abnormal = started, crashed, abnormal
                c.unhandled, c.errored_preaggr = unhandled, preaggr
            if has_durations:
                d = agg.durations
                d.count = dur_count
                d.sum = float(vals[6] or 0.0)
                d.min = float(vals[7])
                d.max = float(vals[8])

    async def _read_errors(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_ERROR
        stmt, n_keys = grouped_select(query, f, [func.count(f.c.sid.distinct())])
        for row in await conn.execute(stmt):
            n = int(row[n_keys] or 0)
            if n:
                _slot(result, query, row[:n_keys]).errored_set = n

    async def _read_users(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_USER

        def tagged(mask: int) -> ColumnElement[Any]:
            return func.count(case((f.c.tags.op("&")(mask) != 0, f.c.did)).distinct())

        # One COUNT(DISTINCT) per tag: on SQLite this measured faster than folding each
        # user's rows first (GROUP BY did, then counting), which sorts every row.
        stmt, n_keys = grouped_select(
            query,
            f,
            [func.count(f.c.did.distinct()), *(tagged(mask) for mask in _USER_MASKS)],
        )
        for row in await conn.execute(stmt):
            vals = [int(v or 0) for v in row[n_keys:]]
            if not vals[0]:
                continue
            u = _slot(result, query, row[:n_keys]).users
            u.all, u.errored, u.crashed, u.abnormal, u.unhandled, u.anr, u.anr_foreground = vals

    async def _read_duration_bins(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_DURATION
        stmt, n_keys = grouped_select(query, f, [func.sum(f.c.count)], extra_group=[f.c.bin])
        for row in await conn.execute(stmt):
            keys, bin_, n = row[:n_keys], row[n_keys], int(row[n_keys + 1] or 0)
            if n:
                bins = _slot(result, query, keys).durations.bins
                bins[int(bin_)] = bins.get(int(bin_), 0) + n

    async def bucket_bounds(self, query: AggregateQuery) -> dict[GroupKey, tuple[int, int]]:
        """Earliest and latest bucket start (per group) among the stored buckets of
        `query.granularity` in `[start, end)` that hold data of the asked quantities:
        `COUNTERS` (any counter positive) and/or `DURATIONS` (any duration). One statement;
        groups without such a bucket are absent. `interval` must be None."""
        if query.interval is not None:
            raise ValueError("bucket_bounds takes no interval")
        if not query.project_ids or query.start >= query.end:
            return {}
        f = FACT_COUNTER
        has_data: list[ColumnElement[bool]] = []
        if Quantity.COUNTERS in query.quantities:
            has_data.append(
                (f.c.started + f.c.crashed + f.c.abnormal + f.c.unhandled + f.c.errored_preaggr) > 0
            )
        if Quantity.DURATIONS in query.quantities:
            has_data.append(f.c.dur_count > 0)
        if not has_data:
            return {}
        stmt, n_keys = grouped_select(query, f, [func.min(f.c.bucket), func.max(f.c.bucket)])
        stmt = stmt.where(or_(*has_data))
        bounds: dict[GroupKey, tuple[int, int]] = {}
        async with self.engine.connect() as conn:
            for row in await conn.execute(stmt):
                low, high = row[n_keys], row[n_keys + 1]
                if low is None or high is None:
                    continue
                group = GroupKey(**dict(zip(query.group_by, row[:n_keys], strict=False)))
                bounds[group] = (int(low), int(high))
        return bounds


def _slot(result: AggregateResult, query: AggregateQuery, keys: Sequence[Any]) -> Aggregate:
    group = GroupKey(**dict(zip(query.group_by, keys, strict=False)))
    if query.interval is None:
        agg = result.totals.get(group)
        if agg is None:
            agg = result.totals[group] = Aggregate()
        return agg
    bucket = int(keys[len(query.group_by)])
    per_group = result.series.setdefault(group, {})
    agg = per_group.get(bucket)
    if agg is None:
        agg = per_group[bucket] = Aggregate()
    return agg
