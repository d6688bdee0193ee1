"""PostgreSQL time partitions of the fact tables: retention drops whole partitions.

On PostgreSQL (migration 0007) the fact tables, `fact_counter` and `fact_sketch`, are
partitioned by granularity (LIST), each granularity by bucket start (RANGE) in windows of
`SPANS[granularity]` seconds, aligned on multiples of the span: one day of minute buckets
(kept 30 days by default: about 31 partitions), one week of hourly buckets (400 days:
about 58), 90 days of daily buckets. The partitions live in the schema `SCHEMA`, out of
the way of the tables the application names (and of schema comparisons, which look at the
default schema only):

    fact_counter                          LIST (granularity)
      relhealth_partitions.fact_counter_g60            RANGE (bucket)
        relhealth_partitions.fact_counter_g60_1748822400   [1748822400, 1748908800)
        relhealth_partitions.fact_counter_g60_default      DEFAULT
      ...                                 (g3600, g86400)
      relhealth_partitions.fact_counter_default        DEFAULT (any other granularity)

Every granularity has a DEFAULT partition, so a write never fails for want of a
partition, whatever its bucket (imported history, a clock far ahead). The cleanup
(`storage.retention`) calls `maintain`, which

1. creates the windows around now (the current one and the next two) and every window
   that has rows waiting in a DEFAULT partition (moving them in, in the same transaction);
2. drops every partition wholly older than the retention cutoff (counting its rows first,
   so the cleanup still reports rows deleted);
3. returns the partitions that straddle the cutoff (at most one per granularity) and the
   DEFAULT partitions: their expired rows are deleted in batches, as on SQLite.

DDL waits at most `LOCK_TIMEOUT` for its locks (a long query on a partition being
dropped); a step that times out is skipped and done at the next run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.types import DAY, HOUR, MINUTE

log = logging.getLogger(__name__)

SCHEMA = "relhealth_partitions"
#: The partitioned fact tables: storage v2's only ones (migration 0004 dropped fact_user,
#: fact_error and fact_duration; sets and duration bins are fact_sketch rows).
TABLES: tuple[str, ...] = ("fact_counter", "fact_sketch")
#: Seconds of buckets per partition, by granularity: a few dozen partitions per retention.
SPANS: Mapping[int, int] = {MINUTE: DAY, HOUR: 7 * DAY, DAY: 90 * DAY}
#: Windows created ahead of now (besides the current one).
AHEAD = 2
LOCK_TIMEOUT = "5s"
#: First key of the session advisory lock of a table's maintenance ("rh" + 7).
LOCK_NAMESPACE = 0x72680007

_RANGE = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True, slots=True)
class Partition:
    """One range partition (or a DEFAULT one: `lo` and `hi` None) of `table`'s granularity."""

    table: str
    granularity: int
    name: str  # schema-qualified
    lo: int | None
    hi: int | None


def parent_name(table: str, granularity: int) -> str:
    return f"{SCHEMA}.{table}_g{granularity}"


def default_name(table: str, granularity: int) -> str:
    return f"{SCHEMA}.{table}_g{granularity}_default"


def window_name(table: str, granularity: int, lo: int) -> str:
    return f"{SCHEMA}.{table}_g{granularity}_{lo}"


def window_of(bucket: int, granularity: int) -> tuple[int, int]:
    """The partition window `[lo, hi)` holding `bucket`."""
    span = SPANS[granularity]
    lo = bucket - bucket % span
    return lo, lo + span


def create_statements(table: str) -> list[str]:
    """DDL turning an empty, just-created `table ... PARTITION BY LIST (granularity)` into
    the layout above (the migration's, and tests')."""
    out = [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"]
    for g in SPANS:
        out.append(
            f"CREATE TABLE {parent_name(table, g)} PARTITION OF {table}"
            f" FOR VALUES IN ({g}) PARTITION BY RANGE (bucket)"
        )
        out.append(f"CREATE TABLE {default_name(table, g)} PARTITION OF {parent_name(table, g)} DEFAULT")
    out.append(f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {table} DEFAULT")
    return out


async def is_partitioned(conn: AsyncConnection, table: str) -> bool:
    """Whether `table` (in the default schema) is a partitioned table here."""
    if conn.dialect.name != "postgresql":
        return False
    found = await conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
            " WHERE c.oid = to_regclass(:t)"
        ),
        {"t": table},
    )
    return found.first() is not None


async def partitions(conn: AsyncConnection, table: str, granularity: int) -> list[Partition]:
    """The partitions of one granularity of `table`, ranges by start, DEFAULT last."""
    rows = await conn.execute(
        text(
            "SELECT n.nspname || '.' || c.relname, pg_get_expr(c.relpartbound, c.oid)"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": parent_name(table, granularity)},
    )
    ranges: list[Partition] = []
    defaults: list[Partition] = []
    for name, bound in rows:
        m = _RANGE.search(str(bound))
        if m is None:
            defaults.append(Partition(table, granularity, str(name), None, None))
        else:
            ranges.append(Partition(table, granularity, str(name), int(m[1]), int(m[2])))
    return sorted(ranges, key=lambda p: p.lo or 0) + defaults


async def maintain(
    engine: AsyncEngine, table: str, *, now: float, retention: Mapping[int, int]
) -> tuple[int, list[tuple[int, str]]]:
    """Create and drop `table`'s partitions (see the module docstring). Returns the rows
    in the partitions dropped, and the partitions whose rows older than the cutoff are
    still to be deleted row by row: (granularity, schema-qualified name).

    One process at a time maintains a table (every server process runs the cleanup): the
    others, finding its advisory lock taken, skip the table this time."""
    async with engine.connect() as lock:
        key = {"ns": LOCK_NAMESPACE, "k": TABLES.index(table) if table in TABLES else -1}
        got = (await lock.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), key)).scalar_one()
        await lock.commit()
        if not got:
            return 0, []
        try:
            return await _maintain(engine, table, int(now), retention)
        finally:
            await lock.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), key)
            await lock.commit()


async def _maintain(
    engine: AsyncEngine, table: str, now: int, retention: Mapping[int, int]
) -> tuple[int, list[tuple[int, str]]]:
    dropped_rows = 0
    to_trim: list[tuple[int, str]] = []
    for g in SPANS:
        keep = retention.get(g, 0)
        cutoff = now - keep if keep > 0 else None
        await _create_windows(engine, table, g, now, cutoff)
        async with engine.connect() as conn:
            current = await partitions(conn, table, g)
            orphans = await _orphans(conn, table, g)
        for name in orphans:
            dropped_rows += await _drop_detached(engine, name)
        if cutoff is None:
            continue
        for p in current:
            if p.hi is not None and p.hi <= cutoff:
                n = await _drop(engine, p)
                if n is not None:
                    dropped_rows += n
                    continue
                to_trim.append((g, p.name))  # not dropped this time: delete its rows instead
            elif p.lo is None or p.lo < cutoff:
                to_trim.append((g, p.name))  # straddles the cutoff, or DEFAULT
    return dropped_rows, to_trim


async def _create_windows(engine: AsyncEngine, table: str, g: int, now: int, cutoff: int | None) -> None:
    span = SPANS[g]
    lo_now = window_of(now, g)[0]
    wanted = {lo_now + k * span for k in range(AHEAD + 1)}
    async with engine.connect() as conn:
        existing = await partitions(conn, table, g)
        waiting = await conn.execute(
            text(
                f"SELECT DISTINCT bucket - bucket % {span} FROM {default_name(table, g)}"
                + ("" if cutoff is None else " WHERE bucket >= :cutoff")
            ),
            {} if cutoff is None else {"cutoff": cutoff - cutoff % span},
        )
        wanted |= {int(lo) for (lo,) in waiting}
    taken = [(p.lo, p.hi) for p in existing if p.lo is not None and p.hi is not None]
    for lo in sorted(wanted):
        hi = lo + span
        if cutoff is not None and hi <= cutoff:
            continue  # already expired: its rows are deleted where they are
        if any(a < hi and lo < b for a, b in taken):
            continue  # covered (possibly by a partition of another span)
        await _create_window(engine, table, g, lo, hi)
        taken.append((lo, hi))


async def _create_window(engine: AsyncEngine, table: str, g: int, lo: int, hi: int) -> None:
    """One window, with the rows the DEFAULT partition holds for it moved in; attached
    (not created as PARTITION OF) so the parent is never locked against writers."""
    name, default = window_name(table, g, lo), default_name(table, g)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            # In ATTACH's own order: the granularity's parent, then its DEFAULT partition
            # (no row for the window may arrive there while it moves).
            await conn.execute(text(f"LOCK TABLE {parent_name(table, g)} IN SHARE UPDATE EXCLUSIVE MODE"))
            await conn.execute(text(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"))
            await conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
            where = f"bucket >= {lo} AND bucket < {hi}"
            await conn.execute(text(f"INSERT INTO {name} SELECT * FROM {default} WHERE {where}"))
            await conn.execute(text(f"DELETE FROM {default} WHERE {where}"))
            bounds = f"FOR VALUES FROM ({lo}) TO ({hi})"
            await conn.execute(text(f"ALTER TABLE {parent_name(table, g)} ATTACH PARTITION {name} {bounds}"))
    except DBAPIError as error:
        log.warning("partition %s not created (next cleanup retries): %s", name, error.orig)


async def _drop(engine: AsyncEngine, p: Partition) -> int | None:
    """Drop an expired partition; its row count, or None when a lock was not granted.

    Detached first, in a transaction of its own: that holds the granularity's parent
    (against readers too) only for the detach itself; the count and the drop then touch
    a table no one else sees."""
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            await conn.execute(
                text(f"ALTER TABLE {parent_name(p.table, p.granularity)} DETACH PARTITION {p.name}")
            )
    except DBAPIError as error:
        log.warning("partition %s not dropped (its rows are deleted instead): %s", p.name, error.orig)
        return None
    return await _drop_detached(engine, p.name)


async def _drop_detached(engine: AsyncEngine, name: str) -> int:
    async with engine.begin() as conn:
        n = int((await conn.execute(text(f"SELECT count(*) FROM {name}"))).scalar_one())
        await conn.execute(text(f"DROP TABLE {name}"))
    return n


async def _orphans(conn: AsyncConnection, table: str, granularity: int) -> list[str]:
    """Windows detached by a cleanup that stopped before dropping them."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relkind = 'r' AND NOT c.relispartition"
            " AND c.relname LIKE :pattern"
        ),
        {"schema": SCHEMA, "pattern": f"{table}_g{granularity}_%"},
    )
    return [f"{SCHEMA}.{name}" for (name,) in rows]
