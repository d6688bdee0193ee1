"""The SQLite sketch read's parameter (`storage.sql.sketches.sqlite_keys`) is the JSON
the statement's `json_each` expects, as `json.dumps` would write it."""

from __future__ import annotations

import json
import random

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
