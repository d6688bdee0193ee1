"""`MemoryStore`: the reference implementation of `storage.protocol.Store`.

It keeps what a SQL store keeps, one cell per (granularity, series, client dimensions,
bucket), but in plain Python structures with exact sets of users and session ids, and
answers every question by walking its cells. It is the executable statement of the
store's semantics (the contract suite checks the SQL stores against it) and a fast store
for tests of everything above the store. Nothing is ever deleted: it has no retention.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storage import sketch
from storage.distinct import USER_TAG_KINDS
from storage.protocol import OutcomeRow, OutcomeTotal, Store
from storage.release_parser import version_key
from storage.sql.catalogue import UnknownProjectError
from storage.sql.dimensions import Family, query_family
from storage.types import (
    GRANULARITIES,
    HOUR,
    USER_SEEN,
    Aggregate,
    AggregateQuery,
    AggregateResult,
    And,
    ClientDimensions,
    Cond,
    Dimension,
    Filter,
    GroupKey,
    Or,
    Quantity,
    SeriesInfo,
    SessionIncrement,
    Users,
    WriteBatch,
)

__all__ = ["DuplicateImportChunkError", "MemoryStore"]

#: Durations above this (seconds) are not recorded, as in the SQL store (whose sums could
#: overflow a double).
MAX_DURATION = float(2**32)

SeriesTriple = tuple[int, str, str | None]
# (granularity, series, dimensions, bucket start)
_CellKey = tuple[int, SeriesTriple, ClientDimensions, int]


class DuplicateImportChunkError(ValueError):
    """The import chunk of an `apply` call was already recorded."""


@dataclass(slots=True)
class _Cell:
    """Everything stored for one key, or accumulated for one result slot."""

    started: int = 0
    crashed: int = 0
    abnormal: int = 0
    unhandled: int = 0
    errored_preaggr: int = 0
    dur_count: int = 0
    dur_sum: float = 0.0
    dur_min: float = math.inf
    dur_max: float = -math.inf
    bins: dict[int, int] = field(default_factory=dict)
    error_sids: set[str] = field(default_factory=set)
    user_tags: dict[str, int] = field(default_factory=dict)

    def counted(self) -> bool:
        return (self.started + self.crashed + self.abnormal + self.unhandled + self.errored_preaggr) > 0

    def add(self, inc: SessionIncrement, duration: float | None) -> None:
        self.started += inc.started_count
        self.crashed += inc.crashed
        self.abnormal += inc.abnormal
        self.unhandled += inc.unhandled
        self.errored_preaggr += inc.errored_preaggr
        if duration is not None:
            self._add_durations(1, duration, duration, duration, {sketch.bin_of(duration): 1})
        if inc.error_sid is not None:
            self.error_sids.add(inc.error_sid)
        if inc.user is not None:
            self.user_tags[inc.user] = self.user_tags.get(inc.user, 0) | inc.user_tags

    def merge(self, other: _Cell) -> None:
        self.started += other.started
        self.crashed += other.crashed
        self.abnormal += other.abnormal
        self.unhandled += other.unhandled
        self.errored_preaggr += other.errored_preaggr
        if other.dur_count:
            self._add_durations(other.dur_count, other.dur_sum, other.dur_min, other.dur_max, other.bins)
        self.error_sids |= other.error_sids
        for user, tags in other.user_tags.items():
            self.user_tags[user] = self.user_tags.get(user, 0) | tags

    def _add_durations(self, count: int, total: float, lo: float, hi: float, bins: Mapping[int, int]) -> None:
        self.dur_count += count
        self.dur_sum += total
        self.dur_min = min(self.dur_min, lo)
        self.dur_max = max(self.dur_max, hi)
        sketch.merge(self.bins, bins)


#: The field of `ClientDimensions` that is known whenever its family is.
_FAMILY_NAMES = {Family.SDK: "sdk_name", Family.OS: "os_name", Family.BROWSER: "browser_name"}


class MemoryStore:
    """Session aggregates in memory. `project_orgs` maps every project the store accepts
    increments of to its organization (`add_project` adds more); `version_of` maps a
    release to its `release_version` grouping value (default: the product's rule,
    `storage.release_parser.version_key`)."""

    def __init__(
        self,
        project_orgs: Mapping[int, int] | None = None,
        *,
        version_of: Callable[[str], str] = version_key,
    ) -> None:
        self._orgs: dict[int, int] = dict(project_orgs or {})
        self._version_of = version_of
        self._cells: dict[_CellKey, _Cell] = {}
        self._series: dict[SeriesTriple, SeriesInfo] = {}
        self._environment_ids: dict[tuple[int, str], int] = {}
        self._outcomes: dict[tuple[int, int, str, str, str], int] = {}
        self._import_chunks: dict[tuple[int, str, int], int] = {}

    def add_project(self, project_id: int, org_id: int) -> None:
        self._orgs[project_id] = org_id

    # -- writes ------------------------------------------------------------------

    async def apply(
        self,
        batches: Sequence[WriteBatch],
        *,
        import_chunk: tuple[int, str, int, int] | None = None,
    ) -> None:
        """See `Store.apply`. Everything that can fail is checked before anything is
        counted, which makes the call atomic."""
        increments = [inc for batch in batches for inc in batch.increments]
        unknown = sorted({inc.project_id for inc in increments} - self._orgs.keys())
        if unknown:
            raise UnknownProjectError(f"unknown project ids: {unknown}")
        if import_chunk is not None:
            scope, import_id, first, last = import_chunk
            if (scope, import_id, first) in self._import_chunks:
                raise DuplicateImportChunkError(f"import chunk already recorded: {import_chunk}")
            self._import_chunks[(scope, import_id, first)] = last
        self._catalogue(increments)
        for inc in increments:
            triple = (inc.project_id, inc.release, inc.environment)
            duration = inc.duration
            if duration is not None and not (math.isfinite(duration) and 0 <= duration <= MAX_DURATION):
                duration = None
            started = int(inc.started)
            for g in GRANULARITIES:
                key = (g, triple, inc.dimensions, started - started % g)
                cell = self._cells.get(key)
                if cell is None:
                    cell = self._cells[key] = _Cell()
                cell.add(inc, duration)
        for batch in batches:
            for o in batch.outcomes:
                received = int(o.received)
                okey = (o.project_id, received - received % HOUR, o.item_type, o.kind, o.reason)
                self._outcomes[okey] = self._outcomes.get(okey, 0) + o.quantity

    def _catalogue(self, increments: Iterable[SessionIncrement]) -> None:
        first_seen: dict[SeriesTriple, float] = {}
        for inc in increments:
            triple = (inc.project_id, inc.release, inc.environment)
            if triple not in self._series:
                first_seen[triple] = min(first_seen.get(triple, inc.started), inc.started)
        for (p, r, e), first in first_seen.items():
            self._series[(p, r, e)] = SeriesInfo(p, r, e, int(first))
        for org, name in sorted({(self._orgs[p], e) for p, _, e in first_seen if e is not None}):
            self._environment_ids.setdefault((org, name), len(self._environment_ids) + 1)

    # -- aggregate reads -----------------------------------------------------------

    def _selected(self, query: AggregateQuery) -> Iterable[tuple[GroupKey, int, _Cell]]:
        """(group, bucket, cell) of every stored cell the query reads."""
        if not query.project_ids or query.start >= query.end:
            return
        projects = set(query.project_ids)
        # As the SQL stores: a query may use one client family, from hourly buckets on
        # (errors otherwise), and then reads only sessions whose client has that family.
        family = query_family(query)
        known = None if family is None else _FAMILY_NAMES[family]
        for (g, triple, dims, bucket), cell in self._cells.items():
            if g != query.granularity or triple[0] not in projects:
                continue
            if known is not None and getattr(dims, known) is None:
                continue
            if not query.start <= bucket < query.end:
                continue
            if query.filter is not None and not self._matches(query.filter, triple, dims):
                continue
            values = {d: self._value(d, triple, dims) for d in query.group_by}
            yield GroupKey(**values), bucket, cell  # type: ignore[arg-type]

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """See `Store.aggregate`. Distinct counts are exact: `approximate` stays empty."""
        slots: dict[tuple[GroupKey, int | None], _Cell] = {}
        with_totals = query.totals and query.interval is not None
        for group, bucket, cell in self._selected(query):
            at = None if query.interval is None else bucket - bucket % query.interval
            for key in ((group, at), (group, None)) if with_totals else ((group, at),):
                slot = slots.get(key)
                if slot is None:
                    slot = slots[key] = _Cell()
                slot.merge(cell)
        result = AggregateResult()
        for (group, at), slot in slots.items():
            agg = _aggregate(slot, query.quantities)
            if agg is None:
                continue
            if at is None:
                result.totals[group] = agg
            else:
                result.series.setdefault(group, {})[at] = agg
        return result

    async def bucket_bounds(self, query: AggregateQuery) -> dict[GroupKey, tuple[int, int]]:
        """See `Store.bucket_bounds`."""
        if query.interval is not None:
            raise ValueError("bucket_bounds takes no interval")
        counters = Quantity.COUNTERS in query.quantities
        durations = Quantity.DURATIONS in query.quantities
        bounds: dict[GroupKey, tuple[int, int]] = {}
        for group, bucket, cell in self._selected(query):
            if (counters and cell.counted()) or (durations and cell.dur_count > 0):
                low, high = bounds.get(group, (bucket, bucket))
                bounds[group] = (min(low, bucket), max(high, bucket))
        return bounds

    def _value(self, dimension: Dimension, triple: SeriesTriple, dims: ClientDimensions) -> str | int | None:
        project_id, release, environment = triple
        if dimension == "project_id":
            return project_id
        if dimension == "release":
            return release
        if dimension == "environment":
            return environment
        if dimension == "release_version":
            return self._version_of(release)
        value: str | None = getattr(dims, dimension)
        return value

    def _matches(self, flt: Filter, triple: SeriesTriple, dims: ClientDimensions) -> bool:
        if isinstance(flt, And):
            return all(self._matches(term, triple, dims) for term in flt.terms)
        if isinstance(flt, Or):
            return any(self._matches(term, triple, dims) for term in flt.terms)
        assert isinstance(flt, Cond)
        value = self._value(flt.dimension, triple, dims)
        if flt.dimension == "project_id":
            wanted: set[str | int | None] = {int(v) for v in flt.values if v is not None}
        elif flt.dimension == "release":
            # A release is never missing: None among the values names nothing.
            wanted = {str(v) for v in flt.values if v is not None}
        else:
            # The environment and a major can be missing (None): None among the values
            # names "missing", and NOT IN keeps missing values unless it names them. (A
            # client name is never missing here: `_selected` reads known clients only.)
            wanted = {None if v is None else str(v) for v in flt.values}
        return (value in wanted) != flt.negate

    # -- catalogue ----------------------------------------------------------------

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        wanted = set(releases)
        return {r for p, r, _ in self._series if p == project_id and r in wanted}

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        wanted = set(environments)
        return {e for p, _, e in self._series if p == project_id and e is not None and e in wanted}

    async def series(
        self, project_ids: Sequence[int], releases: Sequence[str] | None = None
    ) -> list[SeriesInfo]:
        projects = set(project_ids)
        names = None if releases is None else set(releases)
        return [
            info
            for (p, r, _), info in sorted(self._series.items(), key=lambda kv: _triple_order(kv[0]))
            if p in projects and (names is None or r in names)
        ]

    async def releases_seen_in_org(self, org_id: int, releases: Sequence[str]) -> set[str]:
        wanted = set(releases)
        return {r for p, r, _ in self._series if self._orgs.get(p) == org_id and r in wanted}

    async def environments(self, org_id: int) -> dict[str, int]:
        return {name: eid for (org, name), eid in self._environment_ids.items() if org == org_id}

    async def outcomes(
        self, project_ids: Sequence[int], start: int | None = None, end: int | None = None
    ) -> list[OutcomeRow]:
        projects = set(project_ids)
        return [
            (p, hour, item_type, kind, reason, n)
            for (p, hour, item_type, kind, reason), n in sorted(self._outcomes.items())
            if p in projects and (start is None or hour >= start) and (end is None or hour < end)
        ]

    async def outcome_totals(self) -> list[OutcomeTotal]:
        totals: dict[tuple[int, str, str, str], int] = {}
        for (p, _hour, item_type, kind, reason), n in self._outcomes.items():
            totals[(p, item_type, kind, reason)] = totals.get((p, item_type, kind, reason), 0) + n
        return [(*key, n) for key, n in sorted(totals.items())]

    async def ping(self) -> None:
        return None


def _aggregate(slot: _Cell, quantities: frozenset[Quantity]) -> Aggregate | None:
    """The result value of one slot, or None when it holds no data of the quantities."""
    has_counters = Quantity.COUNTERS in quantities and slot.counted()
    has_durations = Quantity.DURATIONS in quantities and slot.dur_count > 0
    has_errors = Quantity.ERRORS in quantities and bool(slot.error_sids)
    has_users = (Quantity.USERS in quantities and bool(slot.user_tags)) or (
        Quantity.USER_STATUSES in quantities and any(tags & ~USER_SEEN for tags in slot.user_tags.values())
    )
    present = Quantity.USER_PRESENCE in quantities and bool(slot.user_tags)
    if not (has_counters or has_durations or has_errors or has_users or present):
        return None
    agg = Aggregate(has_users=present)
    if Quantity.COUNTERS in quantities:
        c = agg.counters
        c.started, c.crashed, c.abnormal = slot.started, slot.crashed, slot.abnormal
        c.unhandled, c.errored_preaggr = slot.unhandled, slot.errored_preaggr
    if has_durations:
        d = agg.durations
        d.count, d.sum, d.min, d.max = slot.dur_count, slot.dur_sum, slot.dur_min, slot.dur_max
        d.bins = dict(slot.bins)
    if has_errors:
        agg.errored_set = len(slot.error_sids)
    if has_users:
        agg.users = _users(slot.user_tags, quantities)
    return agg


def _users(user_tags: Mapping[str, int], quantities: frozenset[Quantity]) -> Users:
    """The asked user counts; the others stay 0, as the SQL store leaves them."""
    users = Users()
    if Quantity.USERS in quantities:
        users.all = len(user_tags)
    if Quantity.USER_STATUSES in quantities:
        tagged = [sum(1 for tags in user_tags.values() if tags & mask) for _kind, mask in USER_TAG_KINDS]
        (users.errored, users.crashed, users.abnormal, users.unhandled, users.anr, users.anr_foreground) = (
            tagged
        )
    return users


def _triple_order(key: SeriesTriple) -> tuple[int, str, int, str]:
    p, r, e = key
    return (p, r, 0 if e is None else 1, e or "")


if TYPE_CHECKING:
    # mypy checks here that the reference implements the whole protocol.
    _implements: Store = MemoryStore()
