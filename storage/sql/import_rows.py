"""A bulk-import run's fact rows, folded and encoded where the run is parsed (pure; no I/O).

The live write path folds a batch's increments into rows in the writing process
(`storage.sql.fold`). A bulk import parses its lines in worker processes
(`jobs.import_pool`), and sending every increment back to be folded made the importing
process, which also runs every transaction, the import's bottleneck. So a worker folds
its run with the same `fact_rows` and encodes each touched sketch's new members (and
each bucket's new duration bins) into a blob, and the importing process only merges those
blobs into the stored ones (`storage.sql.import_write`).

Series ids live in the database, which workers cannot reach: a run is folded with the ids
the importer already knows (`FoldSpec.series`) and a placeholder (a negative id) for every
other series, whose rows travel apart (`FoldedRows.new_*`) to be renumbered once the
importer has created them. Increments with client dimensions are folded into their base
series here, and also travel as they are: their client series (`storage.sql.dimensions`)
need the catalogue of client values, which lives in the importing process too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from storage import distinct
from storage.sql import durations
from storage.sql.fold import FactRows, SeriesTriple, SketchKey, fact_rows
from storage.types import NO_DIMENSIONS, SessionIncrement, WriteBatch

#: A fact_sketch upsert row: (granularity, series id, bucket, kind, blob).
SketchRow = tuple[int, int, int, int, bytes]

_INCREMENT_FIELDS = tuple(f.name for f in dataclasses.fields(SessionIncrement))
_increment_tuple = attrgetter(*_INCREMENT_FIELDS)


@dataclass(frozen=True, slots=True)
class FoldSpec:
    """How the importer wants a run folded: the series ids it knows, the oldest minute
    bucket still written (`FactWriter.minute_cutoff`) and whether rows must be sorted by
    key (PostgreSQL: concurrent writers lock in one order)."""

    series: Mapping[SeriesTriple, int]
    minute_cutoff: int | None
    sort: bool


@dataclass(slots=True)
class FoldedRows:
    """What one run writes, as upsert rows.

    `counters` are `fact_counter` rows, `sketches` fact_sketch rows holding only the
    run's own members (or bins), to be merged into the stored blobs; `outcomes` are
    `ingest_outcome` rows. The `new_*` rows belong to series the importer did not know:
    their series id is the placeholder of `new_series` (triple -> (placeholder, earliest
    session start)). `dimensioned` holds the increments with client dimensions, as field
    tuples, for their client series."""

    counters: list[tuple[Any, ...]] = field(default_factory=list)
    sketches: list[SketchRow] = field(default_factory=list)
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    new_series: dict[SeriesTriple, tuple[int, float]] = field(default_factory=dict)
    new_counters: list[tuple[Any, ...]] = field(default_factory=list)
    new_sketches: list[SketchRow] = field(default_factory=list)
    dimensioned: list[tuple[Any, ...]] = field(default_factory=list)


def fold_run(batch: WriteBatch, spec: FoldSpec) -> FoldedRows:
    """Fold a run's increments and outcomes into `FoldedRows` (see the module docstring)."""
    known = spec.series
    ids: dict[SeriesTriple, int] = {}
    new_series: dict[SeriesTriple, tuple[int, float]] = {}
    dimensioned: list[tuple[Any, ...]] = []
    for inc in batch.increments:
        key = (inc.project_id, inc.release, inc.environment)
        if key not in ids:
            sid = known.get(key)
            if sid is None:
                new_series[key] = (-1 - len(new_series), inc.started)
                sid = new_series[key][0]
            ids[key] = sid
        elif ids[key] < 0 and inc.started < new_series[key][1]:
            new_series[key] = (ids[key], inc.started)
        if inc.dimensions is not NO_DIMENSIONS and inc.dimensions != NO_DIMENSIONS:
            dimensioned.append(tuple(_increment_tuple(inc)))
    rows = fact_rows(batch, ids, sort=spec.sort, minute_cutoff=spec.minute_cutoff)
    sketches = sketch_rows(rows, sort=spec.sort)
    out = FoldedRows(outcomes=rows.outcomes, new_series=new_series, dimensioned=dimensioned)
    if new_series:
        out.counters = [r for r in rows.counters if r[1] >= 0]
        out.new_counters = [r for r in rows.counters if r[1] < 0]
        out.sketches = [r for r in sketches if r[1] >= 0]
        out.new_sketches = [r for r in sketches if r[1] < 0]
    else:
        out.counters, out.sketches = rows.counters, sketches
    return out


def sketch_rows(rows: FactRows, *, sort: bool) -> list[SketchRow]:
    """The blobs of a fold's new sketch members and duration bins, one row per key
    (sorted by key when `sort`)."""
    encode = distinct.encode
    out: list[SketchRow] = [(*key, encode(members)) for key, members in _items(rows.sketches, sort)]
    out.extend((*key, durations.encode(bins)) for key, bins in _items(rows.durations, sort))
    if sort and rows.sketches and rows.durations:
        out.sort(key=_key)
    return out


def _items(d: Mapping[SketchKey, Any], sort: bool) -> Iterable[tuple[SketchKey, Any]]:
    return sorted(d.items(), key=_first) if sort else d.items()


def _first(item: tuple[SketchKey, Any]) -> SketchKey:
    return item[0]


def _key(row: SketchRow) -> tuple[int, int, int, int]:
    return row[0], row[1], row[2], row[3]
