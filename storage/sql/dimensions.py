"""Client-dimension series: sessions sliced by SDK, operating system or browser.

A client value (`dim_value`: project, family, name, major) gets its own series per
(project, release, environment): a `release_env` row whose `client` is the value's id. The
base series (`client = 0`) keeps every session as before; an increment with client
dimensions is also written, through the same fact tables and write path, to one client
series per family it has a value for (sdk / os / browser), so counters, distinct sets and
durations all exist per value. Client series are written at hourly and daily granularity
only: minute buckets serve sub-hour intervals of recent data, which no dimension query
needs, and are the largest.

Reads: a query that uses no client dimension reads base series only (`client = 0`); one
that groups or filters by client dimensions reads the client series of their one family,
joined to `dim_value` for its group columns (hourly or daily buckets only). Grouping by
a name (`os_name`) covers every major of it: the series of `iOS 16` and `iOS 17` are
summed and their sets united, exactly as several environments of one release are. A
query over two families has no series that holds both (`MixedDimensionFamiliesError`).
Sessions without a value of the family (a server SDK has no browser) are in no client
series of it: `os.name:!iOS` means "another known OS".

Cardinality: a project keeps at most `values_per_project` values per family (setting
`dimension_values_per_project`); later values are folded into `other` and each increment
folded counts as an ingest outcome (`normalized`, `dimension_folded`). Several server
processes each decide from their own view of the catalogue, refreshed whenever a new value
shows up, so concurrent first sightings can overshoot the cap by a few values.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from sqlalchemy import ColumnElement, false, not_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import DIM_VALUE, RELEASE_ENV
from storage.release_parser import version_key
from storage.sql.fold import NO_MINUTES, FactRows, fact_rows
from storage.types import (
    CLIENT_DIMENSIONS,
    HOUR,
    NO_DIMENSIONS,
    AggregateQuery,
    And,
    ClientDimensions,
    Cond,
    Dimension,
    Filter,
    Or,
    OutcomeIncrement,
    SessionIncrement,
    WriteBatch,
)

#: Per client value, its (project, release, environment) -> series id map and the
#: increments to write to those series (`ClientSeries.expand`).
ClientWork = list[tuple[dict[Any, int], WriteBatch]]

#: Default of the setting `dimension_values_per_project`.
DEFAULT_VALUES_PER_PROJECT = 200
#: The value that stands for every value over the cap (name and major).
OTHER = "other"
#: The ingest outcome of an increment whose value was folded into `other`.
FOLDED_REASON = "dimension_folded"


class Family(IntEnum):
    """A group of client dimensions sharing series (stored: never renumber)."""

    SDK = 0
    OS = 1
    BROWSER = 2


#: Client dimension -> (family, dim_value column).
COLUMNS: dict[Dimension, tuple[Family, str]] = {
    "sdk_name": (Family.SDK, "name"),
    "os_name": (Family.OS, "name"),
    "os_major": (Family.OS, "major"),
    "browser_name": (Family.BROWSER, "name"),
    "browser_major": (Family.BROWSER, "major"),
}
assert set(COLUMNS) == set(CLIENT_DIMENSIONS)


class ClientDimensionError(ValueError):
    """A query the client series cannot answer; the message says why (for API errors)."""


class MixedDimensionFamiliesError(ClientDimensionError):
    """A query uses client dimensions of more than one family (sdk / os / browser)."""


Value = tuple[Family, str, str]  # (family, name, major or "")
ClientKey = tuple[int, str, str | None, int]  # (project, release, environment, client)


def values_of(dims: ClientDimensions) -> list[Value]:
    """The (family, name, major) values of one client, one per family it has."""
    out: list[Value] = []
    if dims.sdk_name is not None:
        out.append((Family.SDK, dims.sdk_name, ""))
    if dims.os_name is not None:
        out.append((Family.OS, dims.os_name, dims.os_major or ""))
    if dims.browser_name is not None:
        out.append((Family.BROWSER, dims.browser_name, dims.browser_major or ""))
    return out


# -- reads ---------------------------------------------------------------------------


def query_family(query: AggregateQuery) -> Family | None:
    """The one client family a query uses (by grouping or filtering), None for none."""
    used = {COLUMNS[d][0] for d in (*query.group_by, *_filter_dimensions(query.filter)) if d in COLUMNS}
    if len(used) > 1:
        names = ", ".join(sorted(f.name.lower() for f in used))
        raise MixedDimensionFamiliesError(
            f"a query can use client dimensions of one family only (sdk, os or browser), not {names}"
        )
    if used and query.granularity < HOUR:
        raise ClientDimensionError("client dimensions (sdk, os, browser) need an interval of at least 1h")
    return next(iter(used), None)


def _filter_dimensions(flt: Filter | None) -> Iterable[Dimension]:
    if flt is None:
        return
    if isinstance(flt, Cond):
        yield flt.dimension
        return
    assert isinstance(flt, And | Or)
    for term in flt.terms:
        yield from _filter_dimensions(term)


def client_condition(cond: Cond, dim_table: Any) -> ColumnElement[bool]:
    """`cond` (on a client dimension) as an IN list on the `dim_value` columns."""
    _family, column = COLUMNS[cond.dimension]
    if column == "major":  # a value without a major is stored as ""; None stands for it
        values = sorted({"" if v is None else str(v) for v in cond.values})
    else:
        values = sorted({str(v) for v in cond.values if v is not None})
    if not values:
        return true() if cond.negate else false()
    clause: ColumnElement[bool] = dim_table.c[column].in_(values)
    return not_(clause) if cond.negate else clause


# -- writes --------------------------------------------------------------------------


class ClientSeries:
    """Client values and client series of one engine, cached for the process (rows are
    never deleted or renumbered), and the expansion of write batches onto them."""

    def __init__(self, engine: AsyncEngine, values_per_project: int = DEFAULT_VALUES_PER_PROJECT) -> None:
        self.engine = engine
        self.values_per_project = values_per_project
        #: project -> (family, name, major) -> dim_value id (`other` included once made).
        self._values: dict[int, dict[Value, int]] = {}
        #: Values found over the cap: they map to their family's `other`.
        self._folded: set[tuple[int, Value]] = set()
        self._series: dict[ClientKey, int] = {}

    async def expand(self, batch: WriteBatch) -> tuple[WriteBatch, ClientWork]:
        """The batch to write to the base series (with an outcome per folded increment
        added) and, per client value, the increments to write to its series with their
        (project, release, environment) -> series id map. A batch without client
        dimensions comes back unchanged, at the cost of one look per increment."""
        # Identity first (ingest shares one NO_DIMENSIONS object), equality for copies
        # (e.g. increments unpickled from an import worker).
        # The increments of one item share one dimensions object: each distinct object is
        # compared (a dataclass comparison) once, not once per increment.
        plain: dict[int, bool] = {id(NO_DIMENSIONS): True}
        dimensioned = []
        for inc in batch.increments:
            dims = inc.dimensions
            is_plain = plain.get(id(dims))
            if is_plain is None:
                is_plain = plain[id(dims)] = dims == NO_DIMENSIONS
            if not is_plain:
                dimensioned.append(inc)
        if not dimensioned:
            return batch, []
        await self._ensure_values(dimensioned)
        groups: dict[int, list[SessionIncrement]] = {}
        first_seen: dict[ClientKey, float] = {}
        folded: dict[int, int] = {}
        per_dims: dict[tuple[int, ClientDimensions], tuple[list[int], bool]] = {}
        last: tuple[int, ClientDimensions] | None = None
        found: tuple[list[int], bool] = ([], False)
        for inc in dimensioned:
            if last is None or inc.dimensions is not last[1] or inc.project_id != last[0]:
                last = (inc.project_id, inc.dimensions)
                hit = per_dims.get(last)
                if hit is None:
                    hit = per_dims[last] = self._clients(inc.project_id, inc.dimensions)
                found = hit
            clients, was_folded = found
            if was_folded:
                folded[inc.project_id] = folded.get(inc.project_id, 0) + 1
            for client in clients:
                groups.setdefault(client, []).append(inc)
                ck = (inc.project_id, inc.release, inc.environment, client)
                if ck not in self._series:
                    seen = first_seen.get(ck)
                    first_seen[ck] = inc.started if seen is None else min(seen, inc.started)
        if first_seen:
            await self._create_series(first_seen)
        out = batch
        if folded:
            now = time.time()
            extra = [
                OutcomeIncrement(p, "session", "normalized", FOLDED_REASON, now, n) for p, n in folded.items()
            ]
            # A new batch: the caller's may be applied again (a retry) and must not grow.
            out = WriteBatch(increments=batch.increments, outcomes=[*batch.outcomes, *extra])
        work = []
        for client, incs in groups.items():
            ids = {(p, r, e): self._series[(p, r, e, client)] for p, r, e in {_triple(i) for i in incs}}
            work.append((ids, WriteBatch(increments=incs)))
        return out, work

    def _clients(self, project_id: int, dims: ClientDimensions) -> tuple[list[int], bool]:
        known = self._values[project_id]
        clients, folded = [], False
        for value in values_of(dims):
            if (project_id, value) in self._folded:
                clients.append(known[(value[0], OTHER, OTHER)])
                folded = True
            else:
                clients.append(known[value])
        return clients, folded

    async def _ensure_values(self, increments: list[SessionIncrement]) -> None:
        wanted: dict[int, set[Value]] = {}
        seen: set[tuple[int, ClientDimensions]] = set()
        for inc in increments:
            key = (inc.project_id, inc.dimensions)
            if key in seen:
                continue
            seen.add(key)
            known = self._values.get(inc.project_id)
            for value in values_of(inc.dimensions):
                if known is None or (value not in known and (inc.project_id, value) not in self._folded):
                    wanted.setdefault(inc.project_id, set()).add(value)
        if not wanted:
            return
        async with self.engine.begin() as conn:
            await self._load_values(conn, wanted)
            create: list[tuple[int, Value]] = []
            for project, values in sorted(wanted.items()):
                known = self._values[project]
                count = {f: sum(1 for v in known if v[0] == f and v[1:] != (OTHER, OTHER)) for f in Family}
                for value in sorted(values):
                    if value in known:
                        continue
                    family = value[0]
                    if count[family] < self.values_per_project:
                        count[family] += 1
                        create.append((project, value))
                    else:
                        self._folded.add((project, value))
                        if (family, OTHER, OTHER) not in known:
                            create.append((project, (family, OTHER, OTHER)))
            if create:
                await conn.execute(
                    text(
                        "INSERT INTO dim_value (project_id, family, name, major) VALUES (:p, :f, :n, :m)"
                        " ON CONFLICT (project_id, family, name, major) DO NOTHING"
                    ),
                    [{"p": p, "f": int(v[0]), "n": v[1], "m": v[2]} for p, v in sorted(set(create))],
                )
                await self._load_values(conn, {p: set() for p, _ in create})

    async def _load_values(self, conn: AsyncConnection, projects: dict[int, set[Value]]) -> None:
        d = DIM_VALUE
        rows = await conn.execute(
            select(d.c.id, d.c.project_id, d.c.family, d.c.name, d.c.major).where(
                d.c.project_id.in_(sorted(projects))
            )
        )
        for project in projects:
            self._values.setdefault(project, {})
        for vid, project, family, name, major in rows:
            self._values[project][(Family(family), name, major)] = vid

    async def _create_series(self, wanted: dict[ClientKey, float]) -> None:
        from storage.sql.filters import env_key  # filters imports this module

        # Own committed transaction, like the base series: the id cache must never hold
        # ids of a rolled-back insert. The org comes from the project row.
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO release_env (org_id, project_id, release, environment, env_key, first_seen,"
                    " version, client) SELECT org_id, :p, :r, :e, :k, :fs, :v, :c FROM project WHERE id = :p"
                    " ON CONFLICT (project_id, release, env_key, client) DO NOTHING"
                ),
                [
                    {"p": p, "r": r, "e": e, "k": env_key(e), "fs": int(first), "v": version_key(r), "c": c}
                    for (p, r, e, c), first in sorted(wanted.items(), key=lambda kv: _sort_key(kv[0]))
                ],
            )
            t = RELEASE_ENV
            result = await conn.execute(
                select(t.c.id, t.c.project_id, t.c.release, t.c.environment, t.c.client).where(
                    t.c.project_id.in_(sorted({k[0] for k in wanted})),
                    t.c.release.in_(sorted({k[1] for k in wanted})),
                    t.c.client.in_(sorted({k[3] for k in wanted})),
                )
            )
            for sid, p, r, e, c in result:
                self._series[(p, r, e, c)] = sid


def client_rows(rows: FactRows, work: ClientWork, *, sort: bool) -> None:
    """Fold the client increments of `expand` into `rows`, hourly and daily buckets only.

    Every work item's increments are folded together, each keyed by its client series,
    by one call of the same `fact_rows` as the base series, with no minute level (one
    call per item was a third of a group commit's time under ingest load). Client series
    ids are their own, so no key meets a base series' key; two work items of one client
    value (two envelopes of a group commit) meet and merge in the fold. Sorted again when
    `sort`, so that concurrent writers still lock in one order.
    """
    if not work:
        return
    increments: list[SessionIncrement] = []
    series: list[int] = []
    for series_ids, batch in work:
        increments.extend(batch.increments)
        series.extend(series_ids[(i.project_id, i.release, i.environment)] for i in batch.increments)
    folded = fact_rows(
        WriteBatch(increments=increments), {}, sort=False, minute_cutoff=NO_MINUTES, series=series
    )
    for into, extra in zip(rows.all(), folded.all(), strict=True):
        into.extend(extra)
    for key, members in folded.sketches.items():
        held = rows.sketches.get(key)
        if held is None:
            rows.sketches[key] = members
        else:
            held |= members
    for key, bins in folded.durations.items():
        held_bins = rows.durations.get(key)
        if held_bins is None:
            rows.durations[key] = bins
        else:
            for b, n in bins.items():
                held_bins[b] = held_bins.get(b, 0) + n
    if sort:
        for into in rows.all():
            into.sort()


def _triple(inc: SessionIncrement) -> tuple[int, str, str | None]:
    return (inc.project_id, inc.release, inc.environment)


def _sort_key(key: ClientKey) -> tuple[int, str, int, str, int]:
    p, r, e, c = key
    return (p, r, 0 if e is None else 1, e or "", c)
