"""COPY into a staging table vs executemany, for the fact rows of bulk-import chunks on
PostgreSQL: `python -m bench.copy_bench [--lines 10000] [--repeat 5]`.

Parses and folds one chunk of the benchmark's import lines (`bench.ingestdata`) into fact
rows exactly as the writer does: counter rows, and the sketch rows (distinct-count
sketches and packed duration bins, `fact_sketch`) the writer's merge makes for empty
tables. Then upserts each table's rows into a fresh database (partitioned fact tables,
migration 0007) both ways, each in its own transaction, timing the statement only: once
into the empty table (inserts) and once more (every row a conflict, updated: counters
added, sketches replaced). Prints JSON: milliseconds per chunk and table, median of
`--repeat` runs (the table is emptied between runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

DB = "relhealth_bench_pg_copy"


async def measure(n_lines: int, repeat: int) -> dict[str, Any]:
    from bench.dataset import ORG, pg_admin, pg_url
    from bench.ingestdata import import_lines
    from jobs.import_parse import ParsedRun, parse_run
    from storage.accounts import AccountStore
    from storage.engine import create_engine
    from storage.schema import ensure_schema
    from storage.sql import copy
    from storage.sql.catalogue import Catalogue
    from storage.sql.fold import fact_rows
    from storage.sql.sketches import UPSERT_TEMPLATE, merged_rows
    from storage.sql.write import _COUNTER_UPSERT, _render

    await pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await pg_admin(f'CREATE DATABASE "{DB}"')
    url = pg_url(DB)
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        accounts = AccountStore(engine)
        orgs: dict[str, dict[str | int, int] | None] = {ORG: {}}
        for slug in ("web", "ios", "android", "api"):
            info, _ = await accounts.create_project(ORG, slug)
            index = orgs[ORG]
            assert index is not None
            index[slug] = info.id
        body, _ = import_lines(n_lines, ORG, time.time())
        numbered = list(enumerate(body.splitlines(), start=1))
        parsed = parse_run(numbered, orgs, None, time.time())
        assert isinstance(parsed, ParsedRun)
        batch = parsed.batch()
        series = await Catalogue(engine).series_for(batch)
        rows = fact_rows(batch, dict(series), sort=True)
        blobs = merged_rows(rows.sketches, rows.durations, {}, sort=True)
    finally:
        await engine.dispose()

    work = {
        "counter": ("fact_counter", _render(_COUNTER_UPSERT, "postgresql"), rows.counters),
        "sketch": ("fact_sketch", _render(UPSERT_TEMPLATE, "postgresql"), blobs),
    }
    times: dict[tuple[str, str, str], list[float]] = {}
    engine = create_engine(url)
    try:
        for _ in range(repeat):
            for name, (table, sql, params) in work.items():
                for method in ("executemany", "copy"):
                    async with engine.begin() as conn:
                        await conn.exec_driver_sql(f"TRUNCATE {table}")
                    for phase in ("insert", "update"):
                        started = time.perf_counter()
                        # The writer's own transaction and statement (storage.sql.write).
                        async with engine.begin() as conn:
                            if method == "copy":
                                await copy.copy_upsert(conn, sql, params)
                            else:
                                await conn.exec_driver_sql(sql, params)
                        ms = (time.perf_counter() - started) * 1000
                        times.setdefault((name, method, phase), []).append(ms)
    finally:
        await engine.dispose()
        await pg_admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    out: dict[str, Any] = {
        "lines": n_lines,
        "counter_rows": len(rows.counters),
        "sketch_rows": len(blobs),
        "sketch_bytes": sum(len(row[4]) for row in blobs),
        "repeat": repeat,
    }
    for (name, method, phase), ms in times.items():
        out[f"{name}_{method}_{phase}_ms"] = round(statistics.median(ms), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.lines, args.repeat))))


if __name__ == "__main__":
    main()
