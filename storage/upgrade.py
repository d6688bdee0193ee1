"""Moving v1 distinct sets (`fact_user`, `fact_error` rows) into v2 sketches (`fact_sketch`),
and v1 duration bins (`fact_duration` rows) into packed blobs there when the code has them.

The body of migration 0004, kept here so that it can be tested on its own. v1 kept one
row per member: `fact_user(granularity, series_id, bucket, did, tags)` and
`fact_error(granularity, series_id, bucket, sid)`. v2 keeps one Theta sketch per
(granularity, series, bucket, kind) (`storage.distinct`); a user row with tags `t` joins
every kind of `distinct.user_kinds(t)`, an error row joins `Kind.ERROR_SESSIONS`. The
sketches are `distinct.encode` of exactly the v1 `did` / `sid` strings, as the v2 writer
makes them, so converted and newly written sketches of a bucket merge into one set.

Bounded memory: a source table is read in pages of `PAGE_ROWS` rows in primary-key order
(keyset pagination, no open cursor while writing), so at most one page of members plus
the sketches of one bucket that continues on the next page are held at once.

Duration bins (`DURATIONS`): a bucket's `fact_duration` rows become one `fact_sketch` row
of kind `DURATION_BINS`, counts added to any stored one.

Safe to repeat: a converted sketch is united with the stored sketch of its key, and a
sketch union is idempotent (a member already in the set is not counted again), so sets
written by v2 writers are kept and converting a bucket twice changes nothing. After each
page the last fully converted bucket is recorded in `PROGRESS_TABLE` in the same
transaction as the page's sketches; a run resumes after that bucket (which is what keeps
duration counts, which add up, from being counted twice). The source tables
are dropped only after everything was converted (by the migration, not here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import distinct
from storage.sql import durations
from storage.types import Kind

#: Source rows read and converted per page (one statement each way per page).
PAGE_ROWS: Final = 50_000

#: Progress of an interrupted conversion: per source table, the last bucket converted.
PROGRESS_TABLE: Final = "upgrade_0004_progress"

Key = tuple[int, int, int]  # (granularity, series_id, bucket)


@dataclass(frozen=True, slots=True)
class Source:
    """A v1 table whose rows become one blob per (granularity, series, bucket, kind).

    A row is (granularity, series_id, bucket, `member`[, `extra`]); `value` picks what the
    row adds to its blobs and `kinds(extra)` which kinds it joins. `encode(values, into)`
    makes a blob (added to the blob `into`); `merge(stored, converted)` adds a converted
    blob to one a v2 writer stored."""

    table: str
    member: str
    extra: str | None
    kinds: Callable[[int], list[int]]
    value: Callable[[Sequence[Any]], Any]
    encode: Callable[[list[Any], bytes | None], bytes]
    merge: Callable[[bytes, bytes], bytes]


def _user_kinds(tags: int) -> list[int]:
    return [int(kind) for kind in distinct.user_kinds(tags)]


def _set_merge(stored: bytes, converted: bytes) -> bytes:
    return distinct.merge_blobs([stored, converted])


USERS: Final = Source(
    "fact_user", "did", "tags", _user_kinds, lambda row: row[3], distinct.encode, _set_merge
)
ERRORS: Final = Source(
    "fact_error",
    "sid",
    None,
    lambda _tags: [int(Kind.ERROR_SESSIONS)],
    lambda row: row[3],
    distinct.encode,
    _set_merge,
)


def _duration_source() -> Source:
    """`fact_duration` rows (one per bin) into one packed blob per bucket
    (`storage.sql.durations`).

    Counts add up, so unlike a set union converting a bucket twice would double it: the
    progress row, written with each page's blobs, is what keeps every bucket converted
    once."""

    def encode(pairs: list[tuple[int, int]], into: bytes | None) -> bytes:
        bins: dict[int, int] = {}
        for b, n in pairs:
            bins[b] = bins.get(b, 0) + n
        return durations.encode(bins, into=into)

    def merge(stored: bytes, converted: bytes) -> bytes:
        return durations.encode(durations.decode(converted), into=stored)

    kind = int(durations.DURATION_BINS)
    return Source(
        "fact_duration",
        "bin",
        "count",
        lambda _count: [kind],
        lambda row: (int(row[3]), int(row[4])),
        encode,
        merge,
    )


DURATIONS: Final = _duration_source()
#: Every table converted (and then dropped by the migration), in conversion order.
SOURCES: Final = (USERS, ERRORS, DURATIONS)


@dataclass(slots=True)
class Stats:
    """What one run converted (for the migration's log line and the tests)."""

    pages: int = 0
    rows: int = 0
    buckets: int = 0
    sketches: int = 0
    merged: int = 0  # sketches united with one already stored
    resumed_after: dict[str, Key | None] = field(default_factory=dict)


def _progress_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        PROGRESS_TABLE,
        metadata,
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
    )


def create_progress_table(conn: Connection) -> None:
    _progress_table(sa.MetaData()).create(conn, checkfirst=True)


def drop_progress_table(conn: Connection) -> None:
    _progress_table(sa.MetaData()).drop(conn, checkfirst=True)


def convert_all(
    conn: Connection,
    *,
    page_rows: int | None = None,
    checkpoint: Callable[[Connection], None] | None = None,
    sources: Sequence[Source] = SOURCES,
) -> Stats:
    """Convert every row of the source tables not yet converted.

    `checkpoint(conn)` runs after each page's writes (tests commit or fail there; the
    migration passes none: it runs in the caller's transaction)."""
    create_progress_table(conn)
    stats = Stats()
    for source in sources:
        _convert(conn, source, page_rows or PAGE_ROWS, checkpoint, stats)
    return stats


@dataclass(slots=True)
class _Open:
    """The sketches of the bucket the last full page ended in (it may continue)."""

    key: Key
    blobs: dict[int, bytes]

    def add(self, source: Source, members: dict[int, list[Any]]) -> None:
        for kind, values in members.items():
            self.blobs[kind] = source.encode(values, self.blobs.get(kind))


def _convert(
    conn: Connection,
    source: Source,
    page_rows: int,
    checkpoint: Callable[[Connection], None] | None,
    stats: Stats,
) -> None:
    done = _resume_point(conn, source)
    stats.resumed_after[source.table] = done
    extra = f", {source.extra}" if source.extra else ""
    cols = f"granularity, series_id, bucket, {source.member}{extra}"
    first_page = sa.text(
        f"SELECT {cols} FROM {source.table}"
        + (" WHERE (granularity, series_id, bucket) > (:g, :s, :b)" if done else "")
        + f" ORDER BY granularity, series_id, bucket, {source.member} LIMIT :n"
    )
    next_page = sa.text(
        f"SELECT {cols} FROM {source.table}"
        f" WHERE (granularity, series_id, bucket, {source.member}) > (:g, :s, :b, :m)"
        f" ORDER BY granularity, series_id, bucket, {source.member} LIMIT :n"
    )
    params: dict[str, Any] = {"n": page_rows}
    if done:
        params.update(g=done[0], s=done[1], b=done[2])
    stmt = first_page
    open_: _Open | None = None
    while True:
        rows: Sequence[Sequence[Any]] = conn.execute(stmt, params).all()
        stats.pages += 1
        stats.rows += len(rows)
        full = len(rows) == page_rows
        groups = _group(rows, source)
        completed: dict[Key, dict[int, bytes]] = {}
        if open_ is not None and (not groups or next(iter(groups)) != open_.key):
            completed[open_.key] = open_.blobs
            open_ = None
        last = len(groups) - 1
        for i, (key, members) in enumerate(groups.items()):
            if open_ is not None and open_.key == key:
                open_.add(source, members)
            elif i == last and full:
                open_ = _Open(key, {})
                open_.add(source, members)
            else:
                completed[key] = {kind: source.encode(values, None) for kind, values in members.items()}
                continue
            if i != last or not full:
                completed[key] = open_.blobs
                open_ = None
        if completed:
            _write(conn, source, completed, stats)
            if checkpoint is not None:
                checkpoint(conn)
        if not full:
            assert open_ is None
            return
        g, s, b, m = rows[-1][:4]
        params = {"g": g, "s": s, "b": b, "m": m, "n": page_rows}
        stmt = next_page


def _group(rows: Sequence[Sequence[Any]], source: Source) -> dict[Key, dict[int, list[Any]]]:
    """Values per bucket and kind, buckets in key order (dicts keep insertion order)."""
    groups: dict[Key, dict[int, list[Any]]] = {}
    # The kinds of each `extra` value seen, computed once (user tags take at most 128
    # values): this loop runs once per source row, and is most of the migration's time.
    kinds_of: dict[int, list[int]] = {}
    last: Key | None = None
    members: dict[int, list[Any]] = {}
    has_extra = source.extra is not None
    for row in rows:
        key = (row[0], row[1], row[2])
        if key != last:
            members = groups[key] = {}
            last = key
        extra = row[4] if has_extra else 0
        kinds = kinds_of.get(extra)
        if kinds is None:
            kinds = kinds_of[extra] = source.kinds(extra)
        value = source.value(row)
        for kind in kinds:
            values = members.get(kind)
            if values is None:
                members[kind] = [value]
            else:
                values.append(value)
    return groups


def _resume_point(conn: Connection, source: Source) -> Key | None:
    row = conn.execute(
        sa.text(f"SELECT granularity, series_id, bucket FROM {PROGRESS_TABLE} WHERE source = :t"),
        {"t": source.table},
    ).first()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


_EXISTING = sa.text(
    "SELECT granularity, series_id, bucket, kind, sketch FROM fact_sketch"
    " WHERE (granularity, series_id, bucket) >= (:g1, :s1, :b1)"
    " AND (granularity, series_id, bucket) <= (:g2, :s2, :b2)"
)
_UPSERT = sa.text(
    "INSERT INTO fact_sketch (granularity, series_id, bucket, kind, sketch)"
    " VALUES (:g, :s, :b, :k, :sketch)"
    " ON CONFLICT (granularity, series_id, bucket, kind) DO UPDATE SET sketch = excluded.sketch"
)
_PROGRESS = sa.text(
    f"INSERT INTO {PROGRESS_TABLE} (source, granularity, series_id, bucket) VALUES (:t, :g, :s, :b)"
    " ON CONFLICT (source) DO UPDATE SET granularity = excluded.granularity,"
    " series_id = excluded.series_id, bucket = excluded.bucket"
)


def _write(conn: Connection, source: Source, completed: dict[Key, dict[int, bytes]], stats: Stats) -> None:
    """Unite the page's sketches with the stored ones of their keys, write them and the
    progress: three statements, whatever the page holds."""
    keys = list(completed)  # in key order
    (g1, s1, b1), (g2, s2, b2) = keys[0], keys[-1]
    stored = {
        (int(r[0]), int(r[1]), int(r[2]), int(r[3])): bytes(r[4])
        for r in conn.execute(_EXISTING, {"g1": g1, "s1": s1, "b1": b1, "g2": g2, "s2": s2, "b2": b2})
    }
    params: list[dict[str, Any]] = []
    for key, blobs in completed.items():
        for kind, blob in blobs.items():
            old = stored.get((*key, kind))
            if old is not None:
                blob = source.merge(old, blob)
                stats.merged += 1
            params.append({"g": key[0], "s": key[1], "b": key[2], "k": kind, "sketch": blob})
    conn.execute(_UPSERT, params)
    g, s, b = keys[-1]
    conn.execute(_PROGRESS, {"t": source.table, "g": g, "s": s, "b": b})
    stats.buckets += len(completed)
    stats.sketches += len(params)
