"""Committing one folded bulk-import run (`storage.sql.import_rows`) as one transaction.

The same statements, the same locks and the same read-modify-write of the sketches as the
live writer (`storage.sql.write`), from rows a worker already folded: here the importing
process only creates the run's new series, adds its client-dimension rows, and merges the
run's sketch blobs into the stored ones. A key with no stored sketch (most of a fresh
import: every minute bucket is new) is written as the worker encoded it. The stored
sketches are read by bucket range on SQLite (`bucket_ranges`), not key by key.

Merging a run's blob into a stored one unites two sketches where the live writer adds the
members to the stored sketch: the same sketch while it is exact (up to `distinct.EXACT_UP_TO`
members), the same estimate within the sketch's error beyond.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from storage import distinct
from storage.sql import copy, durations, sketches
from storage.sql.dimensions import client_rows
from storage.sql.fold import FactRows, SketchKey
from storage.sql.import_rows import FoldedRows, SketchRow, sketch_rows
from storage.sql.write import (
    _COUNTER_UPSERT,
    _IMPORT_CHUNK_INSERT,
    _OUTCOME_UPSERT,
    Work,
    _render,
    sqlite_transaction,
)
from storage.store import SessionStore
from storage.types import OutcomeIncrement, SessionIncrement, WriteBatch


async def write_folded(
    store: SessionStore, run: FoldedRows, *, import_chunk: tuple[int, str, int, int]
) -> dict[tuple[int, str, str | None], int]:
    """Apply `run` and record `import_chunk` in one transaction; the ids of the run's new
    series (created, like the live writer's, in their own transaction first)."""
    dialect = store.engine.dialect.name
    sort = dialect != "sqlite"
    counters, blobs, outcomes = run.counters, run.sketches, run.outcomes
    created: dict[tuple[int, str, str | None], int] = {}
    if run.new_series:
        created = await store.catalogue.ids_for({k: first for k, (_, first) in run.new_series.items()})
        ids = {placeholder: created[k] for k, (placeholder, _) in run.new_series.items()}
        counters = [*counters, *((g, ids[s], *rest) for g, s, *rest in run.new_counters)]
        blobs = [*blobs, *((g, ids[s], b, kind, blob) for g, s, b, kind, blob in run.new_sketches)]
    if run.dimensioned:
        extra, extra_outcomes = await _client_rows(store, run.dimensioned)
        counters = [*counters, *extra.counters]
        blobs = [*blobs, *sketch_rows(extra, sort=False)]
        outcomes = _add_outcomes(outcomes, extra_outcomes)
    if sort and (run.new_series or run.dimensioned):
        counters.sort()
        blobs.sort(key=_key)
    plain = ((_COUNTER_UPSERT, counters), (_OUTCOME_UPSERT, outcomes))
    work: Work = [(_render(sql, dialect), rows) for sql, rows in plain if rows]
    work.append((_render(_IMPORT_CHUNK_INSERT, dialect), [import_chunk]))
    upsert = _render(sketches.UPSERT_TEMPLATE, dialect)
    if dialect == "sqlite":
        async with store.engine.connect() as conn:
            if await _sqlite_transaction(conn, work, blobs, upsert):
                return created
    async with store.engine.begin() as conn:
        if blobs:
            stored = await _stored(conn, [_key(row) for row in blobs])
            merged = merged_rows(blobs, stored)
            if merged:
                work.append((upsert, merged))
        await copy.execute_all(conn, work)  # big upserts through COPY on PostgreSQL
    return created


def merged_rows(rows: Sequence[SketchRow], stored: Mapping[SketchKey, bytes]) -> list[SketchRow]:
    """The upsert rows of a run's blobs: as they are where nothing is stored, else merged
    into the stored blob. A distinct-count sketch that gains no member is left out (no
    write), as the live writer does."""
    if not stored:
        return list(rows)
    out: list[SketchRow] = []
    for row in rows:
        key = _key(row)
        old = stored.get(key)
        if old is None:
            out.append(row)
        elif key[3] == durations.DURATION_BINS:
            out.append((*key, durations.encode(durations.decode(row[4]), into=old)))
        else:
            blob = distinct.merge_blobs((old, row[4]))
            if blob != old:
                out.append((*key, blob))
    return out


#: Reads the stored sketches of bucket ranges `[granularity, series, first, last]` (a JSON
#: array of them): one primary-key range scan per range.
SQLITE_RANGE_SELECT: Final = (
    "SELECT f.granularity, f.series_id, f.bucket, f.kind, f.sketch"
    " FROM json_each(?) AS r JOIN fact_sketch AS f"
    " ON f.granularity = json_extract(r.value, '$[0]') AND f.series_id = json_extract(r.value, '$[1]')"
    " AND f.bucket BETWEEN json_extract(r.value, '$[2]') AND json_extract(r.value, '$[3]')"
)
#: Touched buckets of one series and granularity at most this many buckets apart share a
#: range: at most `RANGE_GAP - 1` untouched buckets (a few rows each) are read per touched
#: one, whatever the data, and a chronological import needs a few ranges per series.
RANGE_GAP: Final = 4


def bucket_ranges(keys: Iterable[SketchKey]) -> list[tuple[int, int, int, int]]:
    """`(granularity, series, first bucket, last bucket)` ranges covering every key's
    bucket (every kind of it).

    On SQLite the stored sketches of a run's keys are read by range, not key by key: a fresh
    import's run touches a quarter of a million keys, nearly all new, and looking each one
    up cost SQLite several times more than scanning the few ranges they lie in. The rows
    of untouched buckets in a range are read and ignored."""
    buckets: dict[tuple[int, int], set[int]] = {}
    for g, s, b, _kind in keys:
        found = buckets.get((g, s))
        if found is None:
            buckets[(g, s)] = {b}
        else:
            found.add(b)
    out: list[tuple[int, int, int, int]] = []
    for (g, s), found in sorted(buckets.items()):
        ordered = sorted(found)
        first = previous = ordered[0]
        for b in ordered[1:]:
            if b - previous > RANGE_GAP * g:
                out.append((g, s, first, previous))
                first = b
            previous = b
        out.append((g, s, first, previous))
    return out


def sqlite_ranges(ranges: Iterable[tuple[int, int, int, int]]) -> str:
    """The parameter of `SQLITE_RANGE_SELECT`."""
    return "[" + ",".join([f"[{g},{s},{lo},{hi}]" for g, s, lo, hi in ranges]) + "]"


async def _client_rows(
    store: SessionStore, dimensioned: list[tuple[Any, ...]]
) -> tuple[FactRows, list[OutcomeIncrement]]:
    """The client-series rows of the run's increments with client dimensions, and the
    outcomes of the values folded into `other` (`ClientSeries.expand`)."""
    batch = WriteBatch([SessionIncrement(*fields) for fields in dimensioned])
    expanded, work = await store.writer.clients.expand(batch)
    rows = FactRows()
    client_rows(rows, work, sort=False)
    return rows, expanded.outcomes


def _add_outcomes(rows: list[tuple[Any, ...]], extra: list[OutcomeIncrement]) -> list[tuple[Any, ...]]:
    """Outcome rows with `extra` outcomes folded in by (project, hour, type, kind, reason)."""
    if not extra:
        return rows
    counts: dict[tuple[Any, ...], int] = {tuple(r[:5]): r[5] for r in rows}
    for o in extra:
        hour = int(o.received) - int(o.received) % 3600
        key = (o.project_id, hour, o.item_type, o.kind, o.reason)
        counts[key] = counts.get(key, 0) + o.quantity
    return [(*k, n) for k, n in sorted(counts.items())]


async def _stored(conn: AsyncConnection, keys: list[SketchKey]) -> dict[SketchKey, bytes]:
    """Lock (PostgreSQL: the series' advisory locks, `storage.sql.sketches`) and read the
    stored blobs of `keys`."""
    if conn.dialect.name == "postgresql":
        # By key, as the live writer reads them: PostgreSQL plans a join on ranges as a
        # merge join filtering every row of a series against every range of it.
        await conn.exec_driver_sql(sketches.POSTGRES_LOCK, (sketches.lock_order(keys),))
        result = await conn.exec_driver_sql(sketches.POSTGRES_SELECT, sketches.postgres_keys(keys))
    else:
        result = await conn.exec_driver_sql(SQLITE_RANGE_SELECT, (sqlite_ranges(bucket_ranges(keys)),))
    return sketches.stored_of(result.all())


async def _sqlite_transaction(conn: AsyncConnection, work: Work, blobs: list[SketchRow], upsert: str) -> bool:
    """The import's transaction on aiosqlite's thread, as the live writer runs its own
    (`storage.sql.write.sqlite_transaction`): the stored sketches of the run's bucket
    ranges read and merged with the worker's blobs."""

    def merged(db: sqlite3.Connection) -> list[SketchRow]:
        if not blobs:
            return []
        ranges = bucket_ranges(_key(row) for row in blobs)
        cursor = db.execute(SQLITE_RANGE_SELECT, (sqlite_ranges(ranges),))
        return merged_rows(blobs, sketches.stored_of(cursor.fetchall()))

    return await sqlite_transaction(conn, lambda db: (merged(db), work), upsert)


def _key(row: SketchRow) -> SketchKey:
    return row[0], row[1], row[2], row[3]
