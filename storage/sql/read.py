"""The read path: aggregate queries over the fact tables, one statement per table.

Distinct counts (users per kind, the error set) are unions, never sums: the stored
sketches of the selected rows are merged in Python per (group, [interval bucket], kind)
(`storage.distinct.Union`) and counted. A count is exact while its union holds at most
`storage.distinct.EXACT_UP_TO` members; otherwise it is an estimate, and its kind goes
into `AggregateResult.approximate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import distinct
from storage.models import FACT_COUNTER, FACT_SKETCH
from storage.sql import durations
from storage.sql.filters import grouped_select, groups_having
from storage.types import (
    Aggregate,
    AggregateQuery,
    AggregateResult,
    GroupKey,
    Kind,
    Quantity,
    Users,
)

#: The kinds each distinct-count quantity reads.
_USER_KINDS = (Kind.USERS,)
_USER_STATUS_KINDS = tuple(kind for kind, _mask in distinct.USER_TAG_KINDS)
_ERROR_KINDS = (Kind.ERROR_SESSIONS,)
#: The `Users` field each user kind fills.
_USER_FIELDS: dict[Kind, str] = {
    Kind.USERS: "all",
    Kind.ERRORED_USERS: "errored",
    Kind.CRASHED_USERS: "crashed",
    Kind.ABNORMAL_USERS: "abnormal",
    Kind.UNHANDLED_USERS: "unhandled",
    Kind.ANR_USERS: "anr",
    Kind.ANR_FOREGROUND_USERS: "anr_foreground",
}
assert set(_USER_FIELDS) == {*_USER_KINDS, *_USER_STATUS_KINDS} and set(_USER_FIELDS.values()) <= set(
    Users.__slots__
)


class AggregateReader:
    """Answers `AggregateQuery`s; every call opens its own short-lived connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """Aggregate the facts the query selects; see `AggregateQuery`."""
        result = AggregateResult()
        if not query.project_ids or query.start >= query.end:
            return result
        wanted = query.quantities
        async with self.engine.connect() as conn:
            if Quantity.COUNTERS in wanted or Quantity.DURATIONS in wanted:
                await self._read_counters(conn, query, result)
            kinds = [
                *(_USER_KINDS if Quantity.USERS in wanted else ()),
                *(_USER_STATUS_KINDS if Quantity.USER_STATUSES in wanted else ()),
                *(_ERROR_KINDS if Quantity.ERRORS in wanted else ()),
                *((durations.DURATION_BINS,) if Quantity.DURATIONS in wanted else ()),
            ]
            if kinds:
                await self._read_sketches(conn, query, kinds, result)
            if Quantity.USER_PRESENCE in wanted and Quantity.USERS not in wanted:
                await self._read_presence(conn, query, result)
        if Quantity.USER_PRESENCE in wanted and Quantity.USERS in wanted:
            for agg in _every_aggregate(result):
                agg.has_users = agg.users.all > 0
        if query.totals and query.interval is not None:
            _add_series_sums(result)
        return result

    async def _read_counters(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_COUNTER
        want_counters = Quantity.COUNTERS in query.quantities
        want_durations = Quantity.DURATIONS in query.quantities
        # Only the sums asked for: SQLite adds every selected column of every row read.
        counter_sums = (
            [
                func.sum(f.c.started),
                func.sum(f.c.crashed),
                func.sum(f.c.abnormal),
                func.sum(f.c.unhandled),
                func.sum(f.c.errored_preaggr),
            ]
            if want_counters
            else []
        )
        duration_sums = (
            [func.sum(f.c.dur_count), func.sum(f.c.dur_sum), func.min(f.c.dur_min), func.max(f.c.dur_max)]
            if want_durations
            else []
        )
        stmt, n_keys = grouped_select(query, f, [*counter_sums, *duration_sums])
        slots = _Slots(result, query)
        at_durations = n_keys + len(counter_sums)
        for row in (await conn.execute(stmt)).all():
            has_counters = False
            if want_counters:
                sums = row[n_keys:at_durations]
                started, crashed, abnormal, unhandled, preaggr = (int(v or 0) for v in sums)
                has_counters = (started + crashed + abnormal + unhandled + preaggr) > 0
            dur_count = int(row[at_durations] or 0) if want_durations else 0
            if not (has_counters or dur_count > 0):
                continue
            agg = slots.get(row[:n_keys])
            if want_counters:
                c = agg.counters
                c.started, c.crashed, c.abnormal = started, crashed, abnormal
                c.unhandled, c.errored_preaggr = unhandled, preaggr
            if dur_count > 0:
                d = agg.durations
                d.count = dur_count
                d.sum = float(row[at_durations + 1] or 0.0)
                d.min = float(row[at_durations + 2])
                d.max = float(row[at_durations + 3])

    async def _read_presence(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        """`has_users` of every slot with a users' sketch, from the rows' keys alone; for
        totals, from the first such row of each series."""
        f = FACT_SKETCH
        has_users = f.c.kind == int(Kind.USERS)
        if query.interval is None:
            slots = _Slots(result, query)
            for row in (await conn.execute(groups_having(query, f, has_users))).all():
                slots.get(row[: len(query.group_by)]).has_users = True
            return
        stmt, n_keys = grouped_select(query, f, [func.count()])
        stmt = stmt.where(has_users)
        n_group = len(query.group_by)
        slots = _Slots(result, query)
        totals = _Totals(result, query) if query.totals else None
        for row in (await conn.execute(stmt)).all():
            slots.get(row[:n_keys]).has_users = True
            if totals is not None:
                totals.get(row[:n_group]).has_users = True

    async def _read_sketches(
        self, conn: AsyncConnection, query: AggregateQuery, kinds: list[int], result: AggregateResult
    ) -> None:
        """Users per kind, the error set and/or the duration bins: one statement selecting
        the blobs of the asked kinds with their group keys, merged per
        (group, [bucket], kind) here, and per (group, kind) too for a series query that
        asks for its totals."""
        f = FACT_SKETCH
        stmt, n_keys = grouped_select(query, f, [f.c.kind, f.c.sketch])
        # grouped_select groups for its aggregates; these rows are merged here instead.
        stmt = stmt.group_by(None).where(f.c.kind.in_([int(k) for k in kinds]))
        n_slot = n_keys  # the group keys, then the interval bucket when there is one
        with_totals = query.totals and query.interval is not None
        n_group = len(query.group_by)
        per_slot = _Merges()
        per_group = _Merges()
        for row in (await conn.execute(stmt)).all():
            kind = int(row[n_slot])
            blob = bytes(row[n_slot + 1])
            per_slot.add(tuple(row[:n_slot]), kind, blob)
            if with_totals:
                per_group.add(tuple(row[:n_group]), kind, blob)
        per_slot.fill(_Slots(result, query), result)
        if with_totals:
            per_group.fill(_Totals(result, query), result)

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
            for row in (await conn.execute(stmt)).all():
                low, high = row[n_keys], row[n_keys + 1]
                if low is None or high is None:
                    continue
                bounds[_group(query, row[:n_keys])] = (int(low), int(high))
        return bounds


def _group(query: AggregateQuery, keys: Sequence[Any]) -> GroupKey:
    """The group of a row whose leading columns are the values of `query.group_by`: every
    grouped dimension is a `GroupKey` field of the same name."""
    return GroupKey(**dict(zip(query.group_by, keys, strict=False)))


class _Slots:
    """The `Aggregate` of each row's slot (group, and interval bucket when the query has
    one), created on first use. Rows of one slot repeat (one per series, bucket and
    kind), so slots and their `GroupKey`s are looked up by the row's key values first."""

    __slots__ = ("_groups", "_n_group", "_query", "_result", "_slots")

    def __init__(self, result: AggregateResult, query: AggregateQuery) -> None:
        self._result = result
        self._query = query
        self._n_group = len(query.group_by)
        self._slots: dict[tuple[Any, ...], Aggregate] = {}
        self._groups: dict[tuple[Any, ...], GroupKey] = {}

    def get(self, keys: Sequence[Any]) -> Aggregate:
        slot_keys = tuple(keys)
        agg = self._slots.get(slot_keys)
        if agg is not None:
            return agg
        group_keys = slot_keys[: self._n_group]
        group = self._groups.get(group_keys)
        if group is None:
            group = self._groups[group_keys] = _group(self._query, group_keys)
        result = self._result
        if self._query.interval is None:
            agg = result.totals.get(group)
            if agg is None:
                agg = result.totals[group] = Aggregate()
        else:
            per_group = result.series.setdefault(group, {})
            bucket = int(slot_keys[self._n_group])
            agg = per_group.get(bucket)
            if agg is None:
                agg = per_group[bucket] = Aggregate()
        self._slots[slot_keys] = agg
        return agg


class _Totals(_Slots):
    """The range totals' `Aggregate` of each group of a series query (`query.totals`)."""

    __slots__ = ()

    def __init__(self, result: AggregateResult, query: AggregateQuery) -> None:
        super().__init__(result, replace(query, interval=None))


class _Merges:
    """Blobs of distinct-count sketches and duration bins, gathered per slot and kind,
    then merged into their slots' aggregates."""

    __slots__ = ("bins", "unions")

    def __init__(self) -> None:
        self.unions: dict[tuple[Any, ...], dict[int, distinct.Union]] = {}
        self.bins: dict[tuple[Any, ...], durations.BinsSum] = {}

    def add(self, keys: tuple[Any, ...], kind: int, blob: bytes) -> None:
        if kind == durations.DURATION_BINS:
            bins = self.bins.get(keys)
            if bins is None:
                bins = self.bins[keys] = durations.BinsSum()
            bins.add(blob)
            return
        per_kind = self.unions.get(keys)
        if per_kind is None:
            per_kind = self.unions[keys] = {}
        union = per_kind.get(kind)
        if union is None:
            union = per_kind[kind] = distinct.Union()
        union.add(blob)

    def fill(self, slots: _Slots, result: AggregateResult) -> None:
        for keys, per_kind in self.unions.items():
            counts = {Kind(kind): union.count() for kind, union in per_kind.items()}
            if not any(c.value for c in counts.values()):
                continue
            agg = slots.get(keys)
            for kind, count in counts.items():
                if not count.exact:
                    result.approximate.add(kind)
                if kind is Kind.ERROR_SESSIONS:
                    agg.errored_set = count.value
                else:
                    setattr(agg.users, _USER_FIELDS[kind], count.value)
        for keys, bin_sum in self.bins.items():
            found = bin_sum.bins()
            if found:
                bins_of_slot = slots.get(keys).durations.bins
                for b, n in found.items():
                    bins_of_slot[b] = bins_of_slot.get(b, 0) + n


def _every_aggregate(result: AggregateResult) -> list[Aggregate]:
    return [*result.totals.values(), *(agg for buckets in result.series.values() for agg in buckets.values())]


def _add_series_sums(result: AggregateResult) -> None:
    """Counters and exact durations of a series query's totals: the sums (min, max) of
    its buckets. The unions and bins were merged from the rows already."""
    for group, buckets in result.series.items():
        total = result.totals.get(group)
        if total is None:
            total = result.totals[group] = Aggregate()
        c = total.counters
        d = total.durations
        for agg in buckets.values():
            b = agg.counters
            c.started += b.started
            c.crashed += b.crashed
            c.abnormal += b.abnormal
            c.unhandled += b.unhandled
            c.errored_preaggr += b.errored_preaggr
            if agg.has_durations():
                bd = agg.durations
                d.min = bd.min if not d.count else min(d.min, bd.min)
                d.max = bd.max if not d.count else max(d.max, bd.max)
                d.count += bd.count
                d.sum += bd.sum
