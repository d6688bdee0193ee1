"""Time migration 0004 (v1 sets into sketches) on a synthetic v1 store, and its memory.

    python scripts/migration_0004_cost.py sqlite+aiosqlite:////tmp/m.db 1000000 load
    python scripts/migration_0004_cost.py sqlite+aiosqlite:////tmp/m.db 1000000 migrate

`load` migrates a new database to revision 0003 and writes about N `fact_user` rows (50
series, 90 days, a third day rows and two thirds hour rows, ids from 200,000 users) and
N/10 `fact_error` rows; `migrate` (a separate process, so that its peak RSS is the
migration's) runs `relhealth migrate` and prints rows per second and the peak RSS. The
same N at 3x shows that memory does not grow with the table.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sys
import time

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.schema import alembic_config, migrate

SERIES = 50
DAY0 = 1609459200  # 2021-01-01


def load(conn: Connection, n: int) -> int:
    command.upgrade(alembic_config(conn), "0003")
    conn.execute(sa.text("INSERT INTO organization (id, slug, created_at) VALUES (1, 'o', '2021-01-01')"))
    conn.execute(
        sa.text("INSERT INTO project (id, org_id, slug, created_at) VALUES (1, 1, 'p', '2021-01-01')")
    )
    conn.execute(
        sa.text(
            "INSERT INTO release_env (id, org_id, project_id, release, environment, env_key, first_seen)"
            " VALUES (:i, 1, 1, :r, 'production', '=production', 0)"
        ),
        [{"i": i, "r": f"r{i}"} for i in range(1, SERIES + 1)],
    )
    rng = random.Random(1)
    insert = sa.text("INSERT INTO fact_user VALUES (:g, :s, :b, :d, :t) ON CONFLICT DO NOTHING")
    batch: list[dict[str, object]] = []
    for k in range(n):
        day = DAY0 + ((k // SERIES) % 90) * 86400
        u = rng.randrange(200_000)
        row = {"s": 1 + k % SERIES, "d": f"user-{u}"}
        if k % 3 == 0:
            row.update(g=86400, b=day, t=1 | (2 if u % 9 == 0 else 0))
        else:
            row.update(g=3600, b=day + 3600 * (u % 24), t=1 | (4 if u % 31 == 0 else 0))
        batch.append(row)
        if len(batch) == 50_000:
            conn.execute(insert, batch)
            batch = []
    if batch:
        conn.execute(insert, batch)
    conn.execute(
        sa.text("INSERT INTO fact_error VALUES (:g, :s, :b, :d) ON CONFLICT DO NOTHING"),
        [
            {
                "g": 3600,
                "s": 1 + k % SERIES,
                "b": DAY0 + 3600 * (k % 2000),
                "d": f"00000000-0000-4000-8000-{k:012d}",
            }
            for k in range(n // 10)
        ],
    )
    return int(conn.execute(sa.text("SELECT COUNT(*) FROM fact_user")).scalar_one())


async def main(url: str, n: int, step: str) -> None:
    if step == "load":
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                rows = await conn.run_sync(load, n)
        finally:
            await engine.dispose()
        print(f"loaded {rows} fact_user rows and {n // 10} fact_error rows")
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    await migrate(url)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = n + n // 10
    print(
        f"about {rows} set rows migrated in {took:.1f} s ({rows / took:,.0f} rows/s);"
        f" peak RSS {before:.0f} MiB before, {peak:.0f} MiB after"
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
