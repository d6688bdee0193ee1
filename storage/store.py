"""The session-aggregate store: batched writes of increments, aggregate reads.

Writes upsert with `INSERT ... ON CONFLICT ... DO UPDATE`, whose syntax SQLite and
PostgreSQL share; rows are sorted by key so that concurrent writers (several server
processes on one PostgreSQL) always lock in the same order and cannot deadlock.

Reads go through one generic `aggregate` call that issues at most one statement per
fact table, whatever the number of releases or projects asked about.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    false,
    func,
    not_,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage import sketch
from storage.models import (
    FACT_COUNTER,
    FACT_DURATION,
    FACT_ERROR,
    FACT_USER,
    INGEST_OUTCOME,
    RELEASE_ENV,
)
from storage.types import (
    GRANULARITIES,
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_UNHANDLED,
    Aggregate,
    AggregateQuery,
    AggregateResult,
    And,
    Cond,
    Dimension,
    Filter,
    GroupKey,
    Or,
    Quantity,
    SeriesInfo,
    WriteBatch,
)

SeriesTriple = tuple[int, str, str | None]

#: Batches with more increments than this are folded into rows in a worker thread.
_FOLD_IN_THREAD = 2000

#: Durations above this (seconds) are not recorded: their sums could overflow a double,
#: which PostgreSQL refuses (ingest/quantities.py MAX_DURATION_SECONDS).
_MAX_DURATION = float(2**32)

# Fact writes go through the driver's own executemany with positional parameters (no
# per-row parameter processing in SQLAlchemy); `{}` marks a parameter, rendered as `?` for
# SQLite and `$n` for asyncpg.
_COUNTER_UPSERT = (
    "INSERT INTO fact_counter (granularity, series_id, bucket, started, crashed, abnormal,"
    " unhandled, errored_preaggr, dur_count, dur_sum, dur_min, dur_max)"
    " VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket) DO UPDATE SET"
    " started = fact_counter.started + excluded.started,"
    " crashed = fact_counter.crashed + excluded.crashed,"
    " abnormal = fact_counter.abnormal + excluded.abnormal,"
    " unhandled = fact_counter.unhandled + excluded.unhandled,"
    " errored_preaggr = fact_counter.errored_preaggr + excluded.errored_preaggr,"
    " dur_count = fact_counter.dur_count + excluded.dur_count,"
    " dur_sum = fact_counter.dur_sum + excluded.dur_sum,"
    " dur_min = CASE WHEN excluded.dur_min IS NULL THEN fact_counter.dur_min"
    "  WHEN fact_counter.dur_min IS NULL OR excluded.dur_min < fact_counter.dur_min"
    "  THEN excluded.dur_min ELSE fact_counter.dur_min END,"
    " dur_max = CASE WHEN excluded.dur_max IS NULL THEN fact_counter.dur_max"
    "  WHEN fact_counter.dur_max IS NULL OR excluded.dur_max > fact_counter.dur_max"
    "  THEN excluded.dur_max ELSE fact_counter.dur_max END"
)
_ERROR_INSERT = (
    "INSERT INTO fact_error (granularity, series_id, bucket, sid) VALUES ({}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, sid) DO NOTHING"
)
_USER_UPSERT = (
    "INSERT INTO fact_user (granularity, series_id, bucket, did, tags)"
    " VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, did) DO UPDATE SET"
    " tags = fact_user.tags | excluded.tags"
    " WHERE (fact_user.tags | excluded.tags) <> fact_user.tags"
)
_DURATION_UPSERT = (
    "INSERT INTO fact_duration (granularity, series_id, bucket, bin, count)"
    " VALUES ({}, {}, {}, {}, {})"
    " ON CONFLICT (granularity, series_id, bucket, bin) DO UPDATE SET"
    " count = fact_duration.count + excluded.count"
)
_OUTCOME_UPSERT = (
    "INSERT INTO ingest_outcome (project_id, hour, item_type, kind, reason, count)"
    " VALUES ({}, {}, {}, {}, {}, {})"
    " ON CONFLICT (project_id, hour, item_type, kind, reason) DO UPDATE SET"
    " count = ingest_outcome.count + excluded.count"
)
_IMPORT_CHUNK_INSERT = (
    "INSERT INTO import_chunk (org_id, import_id, first_line, last_line) VALUES ({}, {}, {}, {})"
)
_FACT_STATEMENTS = (_COUNTER_UPSERT, _ERROR_INSERT, _USER_UPSERT, _DURATION_UPSERT, _OUTCOME_UPSERT)


def _render(template: str, dialect: str) -> str:
    n = template.count("{}")
    if dialect == "postgresql":
        return template.format(*(f"${i}" for i in range(1, n + 1)))
    return template.format(*("?" * n))


_SERIES_INSERT = text(
    "INSERT INTO release_env (org_id, project_id, release, environment, env_key, first_seen)"
    " VALUES (:org, :p, :r, :e, :k, :fs)"
    " ON CONFLICT (project_id, release, env_key) DO NOTHING"
)
_ENVIRONMENT_INSERT = text(
    "INSERT INTO environment (org_id, name) VALUES (:org, :name) ON CONFLICT (org_id, name) DO NOTHING"
)


def env_key(environment: str | None) -> str:
    """The non-null form of an environment used in unique keys and seeks."""
    return "" if environment is None else "=" + environment


class UnknownProjectError(LookupError):
    pass


class SessionStore:
    """Session aggregates over one async engine. Safe to share between requests: every
    call opens its own short-lived connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._series_ids: dict[SeriesTriple, int] = {}
        self._project_orgs: dict[int, int] = {}
        self._statements: dict[str, tuple[str, ...]] = {}

    # -- writes ------------------------------------------------------------------

    async def apply(
        self,
        batches: Sequence[WriteBatch],
        *,
        import_chunk: tuple[int, str, int, int] | None = None,
    ) -> None:
        """Apply batches in one transaction: all of them count, or none does.

        `import_chunk` (import scope, import id, first line, last line) is recorded in the same
        transaction: bulk import's progress, which makes re-runs skip committed lines. A
        plain INSERT, so a concurrent run of the same import that recorded the chunk first
        makes this transaction fail instead of counting the chunk twice.
        """
        merged = batches[0] if len(batches) == 1 else WriteBatch()
        if len(batches) > 1:
            for batch in batches:
                merged.extend(batch)
        series_ids = await self._series_for(merged)
        dialect = self.engine.dialect.name
        # Rows are sorted by key only where writers can run concurrently (PostgreSQL, to
        # lock in one order); SQLite has a single writer at a time.
        sort = dialect != "sqlite"
        if len(merged.increments) > _FOLD_IN_THREAD:
            # Folding a big group takes tens of milliseconds or more: off the event loop.
            rows = await asyncio.to_thread(_fact_rows, merged, dict(series_ids), sort=sort)
        else:
            rows = _fact_rows(merged, series_ids, sort=sort)
        statements = self._statements.get(dialect)
        if statements is None:
            statements = self._statements[dialect] = tuple(_render(t, dialect) for t in _FACT_STATEMENTS)
        work = [(sql, params) for sql, params in zip(statements, rows.all(), strict=True) if params]
        if import_chunk is not None:
            work.append((_render(_IMPORT_CHUNK_INSERT, dialect), [import_chunk]))
        if dialect == "sqlite":
            async with self.engine.connect() as conn:
                if await _sqlite_transaction(conn, work):
                    return
        async with self.engine.begin() as conn:
            for sql, params in work:
                await conn.exec_driver_sql(sql, params)

    async def _series_for(self, batch: WriteBatch) -> dict[SeriesTriple, int]:
        wanted: dict[SeriesTriple, float] = {}
        for inc in batch.increments:
            key = (inc.project_id, inc.release, inc.environment)
            if key not in self._series_ids:
                first = wanted.get(key)
                wanted[key] = inc.started if first is None else min(first, inc.started)
        if wanted:
            await self._create_series(wanted)
        return self._series_ids

    async def _create_series(self, wanted: dict[SeriesTriple, float]) -> None:
        # Series rows are created in their own committed transaction: they are idempotent,
        # and the id cache must never hold ids of a rolled-back insert.
        async with self.engine.begin() as conn:
            await self._load_project_orgs(conn, {p for p, _, _ in wanted})
            params = [
                {
                    "org": self._project_orgs[p],
                    "p": p,
                    "r": r,
                    "e": e,
                    "k": env_key(e),
                    "fs": int(first),
                }
                for (p, r, e), first in sorted(wanted.items(), key=lambda kv: _triple_sort(kv[0]))
            ]
            await _execute_many(conn, _SERIES_INSERT, params)
            env_params = sorted({(self._project_orgs[p], e) for p, _, e in wanted if e is not None})
            await _execute_many(conn, _ENVIRONMENT_INSERT, [{"org": o, "name": n} for o, n in env_params])
            t = RELEASE_ENV
            projects = sorted({p for p, _, _ in wanted})
            releases = sorted({r for _, r, _ in wanted})
            result = await conn.execute(
                select(t.c.id, t.c.project_id, t.c.release, t.c.environment).where(
                    t.c.project_id.in_(projects), t.c.release.in_(releases)
                )
            )
            for sid, p, r, e in result:
                self._series_ids[(p, r, e)] = sid

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        """The subset of `releases` already in the project's series catalogue."""
        wanted = sorted(set(releases))
        if not wanted:
            return set()
        t = RELEASE_ENV
        stmt = select(t.c.release).where(t.c.project_id == project_id, t.c.release.in_(wanted)).distinct()
        async with self.engine.connect() as conn:
            return {r for (r,) in await conn.execute(stmt)}

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        """The subset of `environments` already in the project's series catalogue."""
        wanted = sorted({env_key(e) for e in environments})
        if not wanted:
            return set()
        t = RELEASE_ENV
        stmt = select(t.c.environment).where(t.c.project_id == project_id, t.c.env_key.in_(wanted)).distinct()
        async with self.engine.connect() as conn:
            return {e for (e,) in await conn.execute(stmt) if e is not None}

    async def _load_project_orgs(self, conn: AsyncConnection, projects: set[int]) -> None:
        missing = sorted(projects - self._project_orgs.keys())
        if not missing:
            return
        result = await conn.execute(
            text("SELECT id, org_id FROM project WHERE id IN :ids").bindparams(_expanding("ids")),
            {"ids": missing},
        )
        for pid, org in result:
            self._project_orgs[pid] = org
        unknown = [p for p in missing if p not in self._project_orgs]
        if unknown:
            raise UnknownProjectError(f"unknown project ids: {unknown}")

    # -- reads -------------------------------------------------------------------

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """Aggregate the facts the query selects; see `AggregateQuery`."""
        result = AggregateResult()
        if not query.project_ids or query.start >= query.end:
            return result
        async with self.engine.connect() as conn:
            if Quantity.COUNTERS in query.quantities or Quantity.DURATIONS in query.quantities:
                await self._read_counters(conn, query, result)
            if Quantity.ERRORS in query.quantities:
                await self._read_errors(conn, query, result)
            if Quantity.USERS in query.quantities:
                await self._read_users(conn, query, result)
            if Quantity.DURATIONS in query.quantities:
                await self._read_duration_bins(conn, query, result)
        return result

    async def _read_counters(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_COUNTER
        want_counters = Quantity.COUNTERS in query.quantities
        want_durations = Quantity.DURATIONS in query.quantities
        stmt, n_keys = _grouped_select(
            query,
            f,
            [
                func.sum(f.c.started),
                func.sum(f.c.crashed),
                func.sum(f.c.abnormal),
                func.sum(f.c.unhandled),
                func.sum(f.c.errored_preaggr),
                func.sum(f.c.dur_count),
                func.sum(f.c.dur_sum),
                func.min(f.c.dur_min),
                func.max(f.c.dur_max),
            ],
        )
        for row in await conn.execute(stmt):
            keys, vals = row[:n_keys], row[n_keys:]
            started, crashed, abnormal, unhandled, preaggr = (int(v or 0) for v in vals[:5])
            dur_count = int(vals[5] or 0)
            has_counters = want_counters and (started + crashed + abnormal + unhandled + preaggr) > 0
            has_durations = want_durations and dur_count > 0
            if not (has_counters or has_durations):
                continue
            agg = _slot(result, query, keys)
            if want_counters:
                c = agg.counters
                c.started, c.crashed, c.abnormal = started, crashed, abnormal
                c.unhandled, c.errored_preaggr = unhandled, preaggr
            if has_durations:
                d = agg.durations
                d.count = dur_count
                d.sum = float(vals[6] or 0.0)
                d.min = float(vals[7])
                d.max = float(vals[8])

    async def _read_errors(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_ERROR
        stmt, n_keys = _grouped_select(query, f, [func.count(f.c.sid.distinct())])
        for row in await conn.execute(stmt):
            n = int(row[n_keys] or 0)
            if n:
                _slot(result, query, row[:n_keys]).errored_set = n

    async def _read_users(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_USER

        def tagged(mask: int) -> ColumnElement[Any]:
            return func.count(case((f.c.tags.op("&")(mask) != 0, f.c.did)).distinct())

        # One COUNT(DISTINCT) per tag: on SQLite this measured faster than folding each
        # user's rows first (GROUP BY did, then counting), which sorts every row.
        stmt, n_keys = _grouped_select(
            query,
            f,
            [func.count(f.c.did.distinct()), *(tagged(mask) for mask in _USER_MASKS)],
        )
        for row in await conn.execute(stmt):
            vals = [int(v or 0) for v in row[n_keys:]]
            if not vals[0]:
                continue
            u = _slot(result, query, row[:n_keys]).users
            u.all, u.errored, u.crashed, u.abnormal, u.unhandled, u.anr, u.anr_foreground = vals

    async def _read_duration_bins(
        self, conn: AsyncConnection, query: AggregateQuery, result: AggregateResult
    ) -> None:
        f = FACT_DURATION
        stmt, n_keys = _grouped_select(query, f, [func.sum(f.c.count)], extra_group=[f.c.bin])
        for row in await conn.execute(stmt):
            keys, bin_, n = row[:n_keys], row[n_keys], int(row[n_keys + 1] or 0)
            if n:
                bins = _slot(result, query, keys).durations.bins
                bins[int(bin_)] = bins.get(int(bin_), 0) + n

    async def bucket_bounds(self, query: AggregateQuery) -> dict[GroupKey, tuple[int, int]]:
        """Earliest and latest bucket start (per group) among the stored buckets of
        `query.granularity` in `[start, end)` that hold data of the asked quantities:
        `COUNTERS` (any counter positive) and/or `DURATIONS` (any duration). One statement;
        groups without such a bucket are absent. `interval` must be None."""
        if query.interval is not None:
            raise ValueError("bucket_bounds takes no interval")
        if not query.project_ids or query.start >= query.end:
            return {}
        f = FACT_COUNTER
        has_data: list[ColumnElement[bool]] = []
        if Quantity.COUNTERS in query.quantities:
            has_data.append(
                (f.c.started + f.c.crashed + f.c.abnormal + f.c.unhandled + f.c.errored_preaggr) > 0
            )
        if Quantity.DURATIONS in query.quantities:
            has_data.append(f.c.dur_count > 0)
        if not has_data:
            return {}
        stmt, n_keys = _grouped_select(query, f, [func.min(f.c.bucket), func.max(f.c.bucket)])
        stmt = stmt.where(or_(*has_data))
        bounds: dict[GroupKey, tuple[int, int]] = {}
        async with self.engine.connect() as conn:
            for row in await conn.execute(stmt):
                low, high = row[n_keys], row[n_keys + 1]
                if low is None or high is None:
                    continue
                values = dict(zip(query.group_by, row[:n_keys], strict=False))
                group = GroupKey(
                    project_id=values.get("project_id"),
                    release=values.get("release"),
                    environment=values.get("environment"),
                )
                bounds[group] = (int(low), int(high))
        return bounds

    # -- catalogue reads ---------------------------------------------------------

    async def series(
        self,
        project_ids: Sequence[int],
        releases: Sequence[str] | None = None,
    ) -> list[SeriesInfo]:
        """Every (project, release, environment) ever seen for the projects."""
        if not project_ids:
            return []
        t = RELEASE_ENV
        stmt = select(t.c.project_id, t.c.release, t.c.environment, t.c.first_seen).where(
            t.c.project_id.in_(sorted(set(project_ids)))
        )
        if releases is not None:
            stmt = stmt.where(t.c.release.in_(sorted(set(releases))))
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt)
            return [SeriesInfo(p, r, e, int(f)) for p, r, e, f in rows]

    async def releases_seen_in_org(self, org_id: int, releases: Sequence[str]) -> set[str]:
        """The subset of `releases` that appeared in any session data of the org."""
        if not releases:
            return set()
        t = RELEASE_ENV
        stmt = (
            select(t.c.release).where(t.c.org_id == org_id, t.c.release.in_(sorted(set(releases)))).distinct()
        )
        async with self.engine.connect() as conn:
            return {r for (r,) in await conn.execute(stmt)}

    async def environments(self, org_id: int) -> dict[str, int]:
        """Environment records of the org: name -> numeric id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT name, id FROM environment WHERE org_id = :org"), {"org": org_id}
            )
            return {name: eid for name, eid in rows}

    async def outcomes(
        self, project_ids: Sequence[int], start: int | None = None, end: int | None = None
    ) -> list[tuple[int, int, str, str, str, int]]:
        """Ingest outcome rows `(project_id, hour, item_type, kind, reason, count)`."""
        if not project_ids:
            return []
        t = INGEST_OUTCOME
        stmt = select(t.c.project_id, t.c.hour, t.c.item_type, t.c.kind, t.c.reason, t.c.count)
        stmt = stmt.where(t.c.project_id.in_(sorted(set(project_ids))))
        if start is not None:
            stmt = stmt.where(t.c.hour >= start)
        if end is not None:
            stmt = stmt.where(t.c.hour < end)
        stmt = stmt.order_by(t.c.project_id, t.c.hour, t.c.item_type, t.c.kind, t.c.reason)
        async with self.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(stmt)]  # type: ignore[misc]

    async def outcome_totals(self) -> list[tuple[int, str, str, str, int]]:
        """All-time outcome totals `(project_id, item_type, kind, reason, count)`."""
        t = INGEST_OUTCOME
        stmt = select(t.c.project_id, t.c.item_type, t.c.kind, t.c.reason, func.sum(t.c.count)).group_by(
            t.c.project_id, t.c.item_type, t.c.kind, t.c.reason
        )
        async with self.engine.connect() as conn:
            return [(p, it, k, r, int(n)) for p, it, k, r, n in await conn.execute(stmt)]

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


# -- helpers -----------------------------------------------------------------------


#: The user tags counted per group, in the order of `Users` after `all`.
_USER_MASKS = (
    USER_ERRORED,
    USER_CRASHED,
    USER_ABNORMAL,
    USER_UNHANDLED,
    USER_ANR_FOREGROUND | USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
)


def _expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


def _triple_sort(key: SeriesTriple) -> tuple[int, str, int, str]:
    p, r, e = key
    return (p, r, 0 if e is None else 1, e or "")


async def _sqlite_transaction(conn: AsyncConnection, work: list[tuple[str, list[tuple[Any, ...]]]]) -> bool:
    """Run a whole write transaction (BEGIN, every executemany, COMMIT) as one function on
    aiosqlite's thread; False when the driver connection is not aiosqlite's.

    Each awaited driver call is a round trip to that thread whose answer waits its turn in
    the event loop, behind every request being served; under ingest load those waits,
    not SQLite, made most of a group commit's time. One trip instead of one per
    statement plus the commit keeps a group commit short. The connection is left outside
    a transaction (rolled back on any error), as the pool expects it.
    """
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    run_in_thread = getattr(driver, "_execute", None)
    if run_in_thread is None or not hasattr(driver, "_conn"):
        return False

    def transaction() -> None:
        db = driver._conn
        if db.in_transaction:
            db.rollback()
        db.execute("BEGIN")
        try:
            for sql, params in work:
                db.executemany(sql, params)
            db.commit()
        except BaseException:
            db.rollback()
            raise

    await run_in_thread(transaction)
    return True


async def _execute_many(conn: AsyncConnection, stmt: Any, params: list[dict[str, Any]]) -> None:
    if params:
        await conn.execute(stmt, params)


class _FactRows:
    """Positional parameter rows per fact table (columns in the statements' order)."""

    __slots__ = ("counters", "durations", "errors", "outcomes", "users")

    def __init__(self) -> None:
        self.counters: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.users: list[tuple[Any, ...]] = []
        self.durations: list[tuple[Any, ...]] = []
        self.outcomes: list[tuple[Any, ...]] = []

    def all(self) -> tuple[list[tuple[Any, ...]], ...]:
        return (self.counters, self.errors, self.users, self.durations, self.outcomes)


def _fact_rows(batch: WriteBatch, series_ids: dict[SeriesTriple, int], *, sort: bool = True) -> _FactRows:
    """Fold a batch into one row per key and table (sorted by key when `sort`).

    Increments are folded at the finest granularity first; each coarser granularity is
    then folded from the level below it (every granularity divides the next one), so the
    per-increment work is done once, not once per granularity.
    """
    finest = GRANULARITIES[0]
    # (series, bucket) -> [started, crashed, abnormal, unhandled, preaggr, n, sum, min, max]
    counters: dict[tuple[int, int], list[Any]] = {}
    errors: dict[tuple[int, int], set[str]] = {}
    users: dict[tuple[int, int], dict[str, int]] = {}
    durations: dict[tuple[int, int], dict[int, int]] = {}
    isfinite = math.isfinite
    bin_of = sketch.bin_of
    for inc in batch.increments:
        started = int(inc.started)
        key = (series_ids[(inc.project_id, inc.release, inc.environment)], started - started % finest)
        dur = inc.duration
        if dur is not None and not (0 <= dur <= _MAX_DURATION and isfinite(dur)):
            dur = None
        if (
            inc.started_count
            or inc.crashed
            or inc.abnormal
            or inc.unhandled
            or inc.errored_preaggr
            or dur is not None
        ):
            row = counters.get(key)
            if row is None:
                row = counters[key] = [0, 0, 0, 0, 0, 0, 0.0, None, None]
            row[0] += inc.started_count
            row[1] += inc.crashed
            row[2] += inc.abnormal
            row[3] += inc.unhandled
            row[4] += inc.errored_preaggr
            if dur is not None:
                row[5] += 1
                row[6] += dur
                if row[7] is None or dur < row[7]:
                    row[7] = dur
                if row[8] is None or dur > row[8]:
                    row[8] = dur
                bins = durations.get(key)
                if bins is None:
                    bins = durations[key] = {}
                b = bin_of(dur)
                bins[b] = bins.get(b, 0) + 1
        if inc.error_sid is not None:
            sids = errors.get(key)
            if sids is None:
                errors[key] = {inc.error_sid}
            else:
                sids.add(inc.error_sid)
        if inc.user is not None:
            tags = users.get(key)
            if tags is None:
                users[key] = {inc.user: inc.user_tags}
            else:
                tags[inc.user] = tags.get(inc.user, 0) | inc.user_tags

    rows = _FactRows()
    previous = finest
    for g in GRANULARITIES:
        if g != finest:
            if g % previous:
                raise ValueError("each granularity must divide the next one")
            counters = _coarser_counters(counters, g)
            errors = _coarser(errors, g, _union)
            users = _coarser(users, g, _or_tags)
            durations = _coarser(durations, g, _add_counts)
            previous = g
        ckeys = sorted(counters) if sort else counters
        rows.counters.extend((g, s, b, *counters[(s, b)]) for s, b in ckeys)
        for s, b in sorted(errors) if sort else errors:
            sids = errors[(s, b)]
            rows.errors.extend((g, s, b, sid) for sid in (sorted(sids) if sort else sids))
        for s, b in sorted(users) if sort else users:
            tags = users[(s, b)]
            dids = sorted(tags) if sort else tags
            rows.users.extend((g, s, b, did, tags[did]) for did in dids)
        for s, b in sorted(durations) if sort else durations:
            bins = durations[(s, b)]
            rows.durations.extend((g, s, b, k, bins[k]) for k in (sorted(bins) if sort else bins))

    outcomes: dict[tuple[int, int, str, str, str], int] = defaultdict(int)
    for o in batch.outcomes:
        hour = int(o.received) - int(o.received) % 3600
        outcomes[(o.project_id, hour, o.item_type, o.kind, o.reason)] += o.quantity
    rows.outcomes = [(*k, n) for k, n in sorted(outcomes.items())]
    return rows


def _coarser_counters(level: dict[tuple[int, int], list[Any]], g: int) -> dict[tuple[int, int], list[Any]]:
    out: dict[tuple[int, int], list[Any]] = {}
    for (s, b), v in level.items():
        key = (s, b - b % g)
        row = out.get(key)
        if row is None:
            out[key] = v  # the finer level is already written out: reuse its objects
            continue
        row[0] += v[0]
        row[1] += v[1]
        row[2] += v[2]
        row[3] += v[3]
        row[4] += v[4]
        if v[5]:
            row[5] += v[5]
            row[6] += v[6]
            if row[7] is None or v[7] < row[7]:
                row[7] = v[7]
            if row[8] is None or v[8] > row[8]:
                row[8] = v[8]
    return out


def _coarser(level: dict[tuple[int, int], Any], g: int, merge: Any) -> dict[tuple[int, int], Any]:
    out: dict[tuple[int, int], Any] = {}
    for (s, b), v in level.items():
        key = (s, b - b % g)
        into = out.get(key)
        if into is None:
            out[key] = v  # the finer level is already written out: reuse its objects
        else:
            merge(into, v)
    return out


def _union(into: set[str], other: set[str]) -> None:
    into |= other


def _or_tags(into: dict[str, int], other: dict[str, int]) -> None:
    for did, tags in other.items():
        into[did] = into.get(did, 0) | tags


def _add_counts(into: dict[int, int], other: dict[int, int]) -> None:
    for k, n in other.items():
        into[k] = into.get(k, 0) + n


_DIMENSION_COLUMNS: dict[Dimension, str] = {
    "project_id": "project_id",
    "release": "release",
    "environment": "environment",
}


def _grouped_select(
    query: AggregateQuery,
    fact: Any,
    aggregates: list[Any],
    extra_group: Iterable[Any] = (),
) -> tuple[Select[Any], int]:
    """SELECT <group keys>, [<bucket>], <aggregates> FROM fact JOIN release_env ... ;
    returns the statement and how many leading key columns each row has.

    The series are selected by `series_id IN (SELECT id FROM release_env WHERE ...)`, so
    the fact table is read by seeking its whole key (granularity, series, bucket range)
    once per matching series instead of scanning every series of the granularity; the
    join only brings the group keys.
    """
    r = RELEASE_ENV
    keys: list[Any] = [r.c[_DIMENSION_COLUMNS[d]] for d in query.group_by]
    if query.interval is not None:
        keys.append((fact.c.bucket - fact.c.bucket % query.interval).label("qbucket"))
    extra = list(extra_group)
    chosen = RELEASE_ENV.alias("chosen")
    series = select(chosen.c.id).where(chosen.c.project_id.in_(sorted(set(query.project_ids))))
    if query.filter is not None:
        series = series.where(compile_filter(query.filter, chosen))
    stmt = (
        select(*keys, *extra, *aggregates)
        .select_from(fact.join(r, r.c.id == fact.c.series_id))
        .where(
            fact.c.granularity == query.granularity,
            fact.c.series_id.in_(series),
            fact.c.bucket >= query.start,
            fact.c.bucket < query.end,
        )
    )
    group = [*keys, *extra]
    if group:
        stmt = stmt.group_by(*group)
    return stmt, len(keys)


def compile_filter(flt: Filter, table: Any = None) -> ColumnElement[bool]:
    """The filter as a condition on `table` (default: the `release_env` table)."""
    r = RELEASE_ENV if table is None else table
    if isinstance(flt, And):
        return and_(true(), *(compile_filter(t, r) for t in flt.terms))
    if isinstance(flt, Or):
        return or_(false(), *(compile_filter(t, r) for t in flt.terms))
    assert isinstance(flt, Cond)
    if flt.dimension == "environment":
        # env_key is never NULL, so IN / NOT IN need no NULL special cases, and naming the
        # environments lets SQLite seek on the whole (project, release, env_key) key.
        column: Any = r.c.env_key
        values: list[Any] = [env_key(v if v is None else str(v)) for v in flt.values]
    elif flt.dimension == "release":
        column, values = r.c.release, [str(v) for v in flt.values if v is not None]
    else:
        column, values = r.c.project_id, [int(v) for v in flt.values if v is not None]
    if not values:
        return true() if flt.negate else false()
    cond: ColumnElement[bool] = column.in_(sorted(set(values)))
    return not_(cond) if flt.negate else cond


def _slot(result: AggregateResult, query: AggregateQuery, keys: Sequence[Any]) -> Aggregate:
    values = dict(zip(query.group_by, keys, strict=False))
    group = GroupKey(
        project_id=values.get("project_id"),
        release=values.get("release"),
        environment=values.get("environment"),
    )
    if query.interval is None:
        agg = result.totals.get(group)
        if agg is None:
            agg = result.totals[group] = Aggregate()
        return agg
    bucket = int(keys[len(query.group_by)])
    per_group = result.series.setdefault(group, {})
    agg = per_group.get(bucket)
    if agg is None:
        agg = per_group[bucket] = Aggregate()
    return agg
