"""The SQLite sketch read's parameter (`storage.sql.sketches.sqlite_keys`) is the JSON
the statement's `json_each` expects, as `json.dumps` would write it."""

from __future__ import annotations

import json
import random
import sqlite3

from storage.sql import sketches
from storage.types import Kind


def test_keys_are_compact_json_arrays() -> None:
    rng = random.Random(3)
    keys = [
        (rng.choice([60, 3600, 86400]), rng.randrange(1, 10**6), rng.randrange(0, 2**40), rng.randrange(9))
        for _ in range(50)
    ]
    keys.append((3600, 7, 0, int(Kind.USERS)))
    assert sketches.sqlite_keys(keys) == json.dumps([list(k) for k in keys], separators=(",", ":"))
    assert json.loads(sketches.sqlite_keys(keys)) == [list(k) for k in keys]
    assert sketches.sqlite_keys([]) == "[]"


def test_the_packed_read_finds_what_the_plain_read_finds() -> None:
    """`sqlite_stored` (one text row per chunk of keys) answers as `SQLITE_SELECT` does,
    over several chunks, for blobs of every byte value and sizes from empty to 200 KB,
    and leaves out keys that have no row."""
    rng = random.Random(5)
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE fact_sketch (granularity INTEGER, series_id INTEGER, bucket BIGINT,"
        " kind SMALLINT, sketch BLOB, PRIMARY KEY (granularity, series_id, bucket, kind))"
    )
    stored = {
        (3600, s, 3600 * s, s % 9): rng.randbytes(rng.choice([0, 1, 40, 200_000])) for s in range(1, 601)
    }
    db.executemany("INSERT INTO fact_sketch VALUES (?, ?, ?, ?, ?)", [(*k, v) for k, v in stored.items()])
    keys = [*stored, (60, 1, 60, 0), (3600, 10**6, 0, 1)]  # two without a row
    rng.shuffle(keys)
    plain = sketches.stored_of(db.execute(sketches.SQLITE_SELECT, (sketches.sqlite_keys(keys),)).fetchall())
    assert plain == stored
    assert sketches.sqlite_stored(db, keys) == stored
    assert sketches.sqlite_stored(db, []) == {}
    assert sketches.sqlite_stored(db, [(60, 1, 60, 0)]) == {}
