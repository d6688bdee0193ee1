"""Merging a batch's distinct-count members into the stored sketches (`fact_sketch`).

A sketch row cannot be upserted by SQL arithmetic as a counter can: the new members must
be united with the stored blob in Python (`storage.distinct`). So each write transaction
reads the stored blobs of every key it touches (one statement, whatever the number of
keys: the keys travel as one JSON text on SQLite and as arrays on PostgreSQL), merges,
and writes every merged blob back with one executemany upsert.

That read-modify-write is safe only if no other writer changes a touched row between the
read and the write:

- SQLite: the transaction starts with `BEGIN IMMEDIATE`, which takes the database's write
  lock before the read; other processes sharing the file wait (busy timeout) until the
  commit. A deferred `BEGIN` would read a snapshot and then fail to upgrade to a writer
  (`SQLITE_BUSY_SNAPSHOT`) when another process committed in between.
- PostgreSQL: before the read, the transaction takes a transaction-scoped advisory lock
  per touched series (`pg_advisory_xact_lock(namespace, series_id)`), in ascending id
  order so that two writers cannot deadlock, all in one statement. Every sketch writer
  takes them, so a series' sketches have one writer at a time until commit; readers do
  not take them and are never blocked. Chosen over `INSERT ... ON CONFLICT DO NOTHING` of
  empty placeholder rows followed by `SELECT ... FOR UPDATE`: that writes every new row
  twice (placeholder, then blob) and takes two more statements, while the advisory lock
  is one statement, writes nothing, and covers rows that do not exist yet. It is coarser
  (per series, not per bucket), which costs nothing here: the writers it serializes are
  whole server processes, each already committing one group at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from storage import distinct
from storage.sql import durations
from storage.sql.fold import SketchKey

#: First key of the advisory locks on series sketches ("rh" + 1): keeps them apart from
#: any other advisory lock taken on the same database.
LOCK_NAMESPACE: Final = 0x72680001

# json_extract, not `->>` (SQLite 3.38+); the plan seeks fact_sketch's primary key once
# per key of the JSON array.
_SQLITE_KEYED: Final = (
    " FROM json_each(?) AS k JOIN fact_sketch AS f"
    " ON f.granularity = json_extract(k.value, '$[0]') AND f.series_id = json_extract(k.value, '$[1]')"
    " AND f.bucket = json_extract(k.value, '$[2]') AND f.kind = json_extract(k.value, '$[3]')"
)
SQLITE_SELECT: Final = "SELECT f.granularity, f.series_id, f.bucket, f.kind, f.sketch" + _SQLITE_KEYED
#: `SQLITE_SELECT` as one row: every stored sketch as `g,s,b,kind,HEX`, joined by `;`
#: (`sqlite_stored`). The `sqlite3` module gives the GIL up around each step of a
#: statement and must take it back after, so on aiosqlite's thread each result row waited
#: for the event loop to let go of it: ~100 rows cost a group commit ~4 ms of waiting for
#: ~0.7 ms of work. The aggregate steps through the rows inside SQLite and returns once.
SQLITE_SELECT_PACKED: Final = (
    "SELECT group_concat(f.granularity || ',' || f.series_id || ',' || f.bucket || ',' || f.kind"
    " || ',' || hex(f.sketch), ';')" + _SQLITE_KEYED
)
#: Keys per `SQLITE_SELECT_PACKED`: its one text value stays far below SQLite's string
#: limit (1 GB) even with every sketch at its largest exact size (~260 KB in hex).
_KEYS_PER_PACKED_SELECT = 256
POSTGRES_LOCK: Final = f"SELECT pg_advisory_xact_lock({LOCK_NAMESPACE}, s) FROM unnest($1::integer[]) AS s"
POSTGRES_SELECT: Final = (
    "SELECT f.granularity, f.series_id, f.bucket, f.kind, f.sketch"
    " FROM unnest($1::integer[], $2::integer[], $3::bigint[], $4::smallint[]) AS k(g, s, b, kind)"
    " JOIN fact_sketch AS f"
    " ON f.granularity = k.g AND f.series_id = k.s AND f.bucket = k.b AND f.kind = k.kind"
)
#: Rendered like the writer's other statements (`{}` -> `?` or `$n`).
UPSERT_TEMPLATE: Final = (
    "INSERT INTO fact_sketch (granularity, series_id, bucket, kind, sketch) VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, kind) DO UPDATE SET sketch = excluded.sketch"
)


def sqlite_keys(keys: Iterable[SketchKey]) -> str:
    """The parameter of `SQLITE_SELECT`: the keys as one JSON array of 4-arrays."""
    # Keys are four ints, whose JSON is their repr: formatting them directly is about
    # twice as fast as `json.dumps` of lists, once per group commit.
    return "[" + ",".join([f"[{g},{s},{b},{k}]" for g, s, b, k in keys]) + "]"


def postgres_keys(keys: Iterable[SketchKey]) -> tuple[list[int], list[int], list[int], list[int]]:
    """The parameters of `POSTGRES_SELECT`: one array per key column."""
    g: list[int] = []
    s: list[int] = []
    b: list[int] = []
    k: list[int] = []
    for key in keys:
        g.append(key[0])
        s.append(key[1])
        b.append(key[2])
        k.append(key[3])
    return g, s, b, k


def lock_order(keys: Iterable[SketchKey]) -> list[int]:
    """The series ids to lock, ascending (the one order every writer uses)."""
    return sorted({key[1] for key in keys})


def merged_rows(
    members: Mapping[SketchKey, set[str]],
    bins: Mapping[SketchKey, Mapping[int, int]],
    stored: Mapping[SketchKey, bytes],
    *,
    sort: bool,
) -> list[tuple[Any, ...]]:
    """Upsert rows `(granularity, series_id, bucket, kind, sketch)`: each touched key's
    stored sketch (if any) united with its new members, and each touched bucket's stored
    duration bins plus its new counts (`storage.sql.durations`). A key whose members were
    all stored already (live ingest: a user's next update in the same hour) is left out,
    so it costs no write."""
    encode = distinct.encode
    rows: list[tuple[Any, ...]] = []
    for key in sorted(members) if sort else members:
        old = stored.get(key)
        blob = encode(members[key], into=old)
        if blob != old:
            rows.append((*key, blob))
    for key in sorted(bins) if sort else bins:
        rows.append((*key, durations.encode(bins[key], into=stored.get(key))))
    if sort and members and bins:
        rows.sort(key=lambda row: row[:4])
    return rows


def touched(members: Mapping[SketchKey, Any], bins: Mapping[SketchKey, Any]) -> list[SketchKey]:
    """Every key a transaction merges into (members and bins never share a key)."""
    return [*members, *bins]


def sqlite_stored(db: sqlite3.Connection, keys: Sequence[SketchKey]) -> dict[SketchKey, bytes]:
    """The stored sketches of `keys` (key -> blob) by `SQLITE_SELECT_PACKED`, one result
    row per chunk of keys."""
    out: dict[SketchKey, bytes] = {}
    for start in range(0, len(keys), _KEYS_PER_PACKED_SELECT):
        chunk = keys[start : start + _KEYS_PER_PACKED_SELECT]
        (packed,) = db.execute(SQLITE_SELECT_PACKED, (sqlite_keys(chunk),)).fetchone()
        if packed:
            for part in packed.split(";"):
                g, s, b, k, blob = part.split(",")
                out[(int(g), int(s), int(b), int(k))] = bytes.fromhex(blob)
    return out


def stored_of(rows: Iterable[Any]) -> dict[SketchKey, bytes]:
    """Rows of `*_SELECT` as key -> blob."""
    return {(int(g), int(s), int(b), int(k)): bytes(blob) for g, s, b, k, blob in rows}
