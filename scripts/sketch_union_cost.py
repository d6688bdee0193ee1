"""What distinct counts from `fact_sketch` cost on a real v1 store (issue 8, section 1).

    .venv/bin/python scripts/sketch_union_cost.py V1_DB [--out /tmp/sketches.db] [--repeat 5]

Reads the daily `fact_user` rows of a v1 SQLite store (opened read-only), encodes each
(series, day, kind) member set as the write path does (`storage.distinct.encode` of the
stored `did` strings), writes them into a `fact_sketch` table of a scratch SQLite file,
then times the read path's work for "count_unique(user) by release over the whole
range" (totals: one union per release and kind over every day and environment) and the
same by release and day (the 1d series), as `storage.sql.read` does it: one SELECT of
(release, [day], kind, sketch), then `distinct.Union` per group. Prints JSON with the
timings (median of `--repeat`), the scratch table's size, and the worst relative error
of the totals against `COUNT(DISTINCT did)` on the v1 rows.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from storage import distinct
from storage.types import Kind

DAY = 86400


def build(v1: sqlite3.Connection, out: sqlite3.Connection) -> dict[str, Any]:
    began = time.perf_counter()
    sets: dict[tuple[int, int, int], set[str]] = defaultdict(set)
    exact: dict[str, set[str]] = defaultdict(set)
    releases = dict(v1.execute("SELECT id, release FROM release_env"))
    for series, bucket, did, tags in v1.execute(
        "SELECT series_id, bucket, did, tags FROM fact_user WHERE granularity = ?", (DAY,)
    ):
        for kind in distinct.user_kinds(tags):
            sets[(series, bucket, int(kind))].add(did)
        exact[releases[series]].add(did)
    read_s = time.perf_counter() - began
    out.executescript(
        "DROP TABLE IF EXISTS fact_sketch; DROP TABLE IF EXISTS release_env;"
        "CREATE TABLE release_env (id INTEGER PRIMARY KEY, release TEXT);"
        "CREATE TABLE fact_sketch (granularity INTEGER, series_id INTEGER, bucket BIGINT,"
        " kind SMALLINT, sketch BLOB, PRIMARY KEY (granularity, series_id, bucket, kind))"
        " WITHOUT ROWID;"
    )
    out.executemany("INSERT INTO release_env VALUES (?, ?)", releases.items())
    began = time.perf_counter()
    rows = [(DAY, s, b, k, distinct.encode(m)) for (s, b, k), m in sorted(sets.items())]
    encode_s = time.perf_counter() - began
    out.executemany("INSERT INTO fact_sketch VALUES (?, ?, ?, ?, ?)", rows)
    out.commit()
    return {
        "v1_day_user_rows_read_s": round(read_s, 1),
        "sketch_rows": len(rows),
        "sketch_bytes": sum(len(r[4]) for r in rows),
        "users_kind_bytes": sum(len(r[4]) for r in rows if r[3] == Kind.USERS),
        "encode_s": round(encode_s, 1),
        "exact": {r: len(u) for r, u in exact.items()},
    }


def query(out: sqlite3.Connection, *, daily: bool, kinds: tuple[int, ...]) -> dict[tuple[Any, ...], int]:
    day = ", f.bucket - f.bucket % 86400" if daily else ""
    marks = ", ".join("?" * len(kinds))
    sql = (
        f"SELECT r.release{day}, f.kind, f.sketch FROM fact_sketch f JOIN release_env r ON r.id = f.series_id"
        f" WHERE f.granularity = {DAY} AND f.kind IN ({marks})"
    )
    n = 2 if daily else 1
    unions: dict[tuple[Any, ...], distinct.Union] = {}
    for row in out.execute(sql, kinds):
        key = (*row[:n], row[n])
        u = unions.get(key)
        if u is None:
            u = unions[key] = distinct.Union()
        u.add(row[n + 1])
    counts = {}
    for key, u in unions.items():
        counts[key] = u.count().value
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("v1_db", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/tmp/sketch_union_cost.db"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    v1 = sqlite3.connect(f"file:{args.v1_db}?mode=ro", uri=True)
    out = sqlite3.connect(args.out)
    built = build(v1, out)
    exact = built.pop("exact")
    report: dict[str, Any] = {"lg_k": distinct.LG_K, **built, "releases": len(exact)}
    users_only = (int(Kind.USERS),)
    every_user_kind = tuple(int(k) for k in Kind if k is not Kind.ERROR_SESSIONS)
    for name, daily, kinds in (
        ("totals_users", False, users_only),
        ("totals_all_user_kinds", False, every_user_kind),
        ("daily_users", True, users_only),
        ("daily_all_user_kinds", True, every_user_kind),
    ):
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            counts = query(out, daily=daily, kinds=kinds)
            times.append(time.perf_counter() - began)
        report[f"{name}_ms"] = round(statistics.median(times) * 1000, 1)
        report[f"{name}_ms_range"] = [round(min(times) * 1000, 1), round(max(times) * 1000, 1)]
        if name == "totals_users":
            errors = [abs(counts[(r, 0)] - n) / n for r, n in exact.items()]
            report["totals_worst_rel_error"] = round(max(errors), 5)
            report["totals_mean_rel_error"] = round(sum(errors) / len(errors), 6)
            report["totals_exact_releases"] = sum(counts[(r, 0)] == n for r, n in exact.items())
            report["max_release_users"] = max(exact.values())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
