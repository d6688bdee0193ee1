"""The ClickHouse peer: the benchmark's questions answered by embedded ClickHouse (chdb).

`python -m bench.clickhouse_peer [--size small|medium]` (or `python -m bench --peer
clickhouse`). The same increments the benchmark dataset wrote into relhealth (regenerated
from its manifest: same seed, same `now`, same project ids) are loaded into two MergeTree
tables, the way Sentry stores release health:

- `sessions_raw`: one row per session update / aggregate bucket (Sentry's raw sessions
  table), user and error-session ids as UUIDs (nil when absent);
- `sessions_rollup`: an AggregatingMergeTree of hourly and daily buckets per (project,
  release, environment) with counters and exact distinct-count states (`uniqExactState`
  of users, crashed users and errored sessions), like Sentry's rollups.

Each question is timed from both tables and checked against relhealth's hand-written SQL
baseline (`bench.queries.Baselines`, itself checked equal to the HTTP answers by the main
benchmark) on the same data. Distinct counts use `uniqExact`, so the numbers must be equal.

chdb is an optional benchmark dependency (`pip install -e '.[bench]'`); everything above
`ClickHousePeer` is pure and importable without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench import queries as q
from bench.agreement import EXACT, Agreement, Tolerance, close, tolerance_for
from bench.dataset import DEFAULT_DATA_DIR, SIZES, Manifest, Stats, ensure_dataset, simulate
from bench.loadgen import percentile
from storage.types import USER_CRASHED, SessionIncrement

DAY = q.DAY
HOUR = q.HOUR
NIL_UUID = "00000000-0000-0000-0000-000000000000"

#: (name, ClickHouse type) of the raw table, in row order.
RAW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("project_id", "UInt32"),
    ("release", "LowCardinality(String)"),
    ("environment", "LowCardinality(String)"),
    ("started", "UInt32"),
    ("quantity", "UInt32"),
    ("crashed", "UInt32"),
    ("abnormal", "UInt32"),
    ("unhandled", "UInt32"),
    ("errored_preaggr", "UInt32"),
    ("error_sid", "UUID"),
    ("distinct_id", "UUID"),
    ("user_tags", "UInt8"),
    ("duration", "Nullable(Float64)"),
)
ROLLUP_GRANULARITIES = (HOUR, DAY)
SOURCES = ("raw", "rollup")


# -- rows ----------------------------------------------------------------------------


def raw_row(inc: SessionIncrement) -> tuple[Any, ...]:
    """One increment as a `sessions_raw` row (bucketed by its start, like relhealth)."""
    return (
        inc.project_id,
        inc.release,
        inc.environment or "",
        math.floor(inc.started),
        inc.started_count,
        inc.crashed,
        inc.abnormal,
        inc.unhandled,
        inc.errored_preaggr,
        inc.error_sid or NIL_UUID,
        inc.user or NIL_UUID,
        inc.user_tags if inc.user else 0,
        inc.duration,
    )


def _tsv_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return repr(value) if isinstance(value, float) else str(value)


def tsv_lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    """Rows in ClickHouse's TabSeparated format (`\\N` for NULL)."""
    for row in rows:
        yield "\t".join(_tsv_field(v) for v in row) + "\n"


def dataset_increments(m: Manifest) -> Iterator[SessionIncrement]:
    """The increments of the manifest's dataset, regenerated (deterministic)."""
    ids = {p["slug"]: int(p["id"]) for p in m.projects}
    for batch in simulate(ids, SIZES[m.size], m.seed, Stats(), m.now):
        yield from batch.increments


# -- SQL text -------------------------------------------------------------------------


def sql_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"unsupported literal {value!r}")
    return str(value)


def sql_list(values: Iterable[Any]) -> str:
    items = [sql_literal(v) for v in values]
    if not items:
        raise ValueError("an empty IN list")
    return ", ".join(items)


def create_statements() -> list[str]:
    cols = ", ".join(f"{n} {t}" for n, t in RAW_COLUMNS)
    return [
        f"CREATE TABLE sessions_raw ({cols}) ENGINE = MergeTree"
        " ORDER BY (project_id, release, environment, started)",
        "CREATE TABLE sessions_rollup (granularity UInt32, project_id UInt32,"
        " release LowCardinality(String), environment LowCardinality(String), bucket UInt32,"
        " sessions SimpleAggregateFunction(sum, UInt64), crashed SimpleAggregateFunction(sum, UInt64),"
        " abnormal SimpleAggregateFunction(sum, UInt64), unhandled SimpleAggregateFunction(sum, UInt64),"
        " errored_preaggr SimpleAggregateFunction(sum, UInt64),"
        " errored_set AggregateFunction(uniqExact, UUID), users AggregateFunction(uniqExact, UUID),"
        " users_crashed AggregateFunction(uniqExact, UUID),"
        " durations AggregateFunction(quantiles(0.5, 0.9), Float64))"
        " ENGINE = AggregatingMergeTree ORDER BY (granularity, project_id, release, environment, bucket)",
    ]


def rollup_insert(granularity: int) -> str:
    g = int(granularity)
    return (
        "INSERT INTO sessions_rollup SELECT"
        f" {g}, project_id, release, environment, intDiv(started, {g}) * {g} AS b,"
        " sum(quantity), sum(crashed), sum(abnormal), sum(unhandled), sum(errored_preaggr),"
        f" uniqExactStateIf(error_sid, error_sid != '{NIL_UUID}'),"
        f" uniqExactStateIf(distinct_id, distinct_id != '{NIL_UUID}'),"
        f" uniqExactStateIf(distinct_id, distinct_id != '{NIL_UUID}' AND bitAnd(user_tags, {USER_CRASHED}) != 0),"
        " quantilesStateIf(0.5, 0.9)(assumeNotNull(duration), duration IS NOT NULL)"
        " FROM sessions_raw GROUP BY project_id, release, environment, b"
    )


class Source:
    """The SQL expressions of one question's quantities on the raw or the rollup table."""

    def __init__(self, kind: str, granularity: int) -> None:
        if kind not in SOURCES:
            raise ValueError(f"unknown source {kind!r}")
        self.kind = kind
        self.g = int(granularity)
        raw = kind == "raw"
        nil = f"'{NIL_UUID}'"
        self.table = "sessions_raw" if raw else "sessions_rollup"
        self.bucket = f"intDiv(started, {self.g}) * {self.g}" if raw else "bucket"
        self.time = "started" if raw else "bucket"
        self.sessions = "sum(quantity)" if raw else "sum(sessions)"
        self.counter = {c: f"sum({c})" for c in ("crashed", "abnormal", "unhandled", "errored_preaggr")}
        self.users = f"uniqExactIf(distinct_id, distinct_id != {nil})" if raw else "uniqExactMerge(users)"
        self.users_crashed = (
            f"uniqExactIf(distinct_id, distinct_id != {nil} AND bitAnd(user_tags, {USER_CRASHED}) != 0)"
            if raw
            else "uniqExactMerge(users_crashed)"
        )
        self.errored_set = (
            f"uniqExactIf(error_sid, error_sid != {nil})" if raw else "uniqExactMerge(errored_set)"
        )
        self.durations = "quantiles(0.5, 0.9)(duration)" if raw else "quantilesMerge(0.5, 0.9)(durations)"

    def where(self, lo: int, hi: int, *conditions: str) -> str:
        parts = [f"{self.time} >= {int(lo)}", f"{self.time} < {int(hi)}", *conditions]
        if self.kind == "rollup":
            parts.insert(0, f"granularity = {self.g}")
        return " WHERE " + " AND ".join(parts)

    def statuses(self) -> str:
        c = self.counter
        return f"{self.sessions}, {c['crashed']}, {c['abnormal']}, {c['unhandled']}, {c['errored_preaggr']}, {self.errored_set}"


def sessions_by_release_sql(src: Source, project_ids: list[int], lo: int, hi: int) -> list[str]:
    where = src.where(lo, hi, f"project_id IN ({sql_list(project_ids)})")
    return [
        f"SELECT release, {src.bucket} AS b, {src.sessions}, {src.users} FROM {src.table}{where} GROUP BY release, b",
        f"SELECT release, {src.users} FROM {src.table}{where} GROUP BY release",
    ]


def ranked_sql(src: Source, project_ids: list[int], lo: int, hi: int) -> str:
    c = src.counter
    where = src.where(lo, hi, f"project_id IN ({sql_list(project_ids)})")
    return (
        f"SELECT project_id, release, {src.sessions},"
        f" {c['crashed']} + {c['abnormal']} + {c['unhandled']} + {c['errored_preaggr']}"
        f" FROM {src.table}{where} GROUP BY project_id, release"
    )


def _pairs(page: list[tuple[int, str]]) -> str:
    return ", ".join(f"({sql_literal(p)}, {sql_literal(r)})" for p, r in page)


def page_sql(
    src: Source, page: list[tuple[int, str]], lo: int, hi: int, sparkline: tuple[int, int] = (0, 0)
) -> list[str]:
    """The releases page's statements for its releases: totals, the sparkline (daily
    sessions over `sparkline`, `queries.sparkline_range`), project users."""
    pairs = f"(project_id, release) IN ({_pairs(page)})"
    where = src.where(lo, hi, pairs)
    days = Source(src.kind, DAY)
    pids = sorted({p for p, _ in page})
    return [
        f"SELECT project_id, release, {src.sessions}, {src.counter['crashed']}, {src.users},"
        f" {src.users_crashed}, {src.errored_set}, {src.durations}"
        f" FROM {src.table}{where} GROUP BY project_id, release",
        f"SELECT project_id, release, {days.bucket} AS b, {days.sessions} FROM {days.table}"
        + days.where(*sparkline, pairs)
        + " GROUP BY project_id, release, b",
        f"SELECT project_id, {src.users} FROM {src.table}"
        + src.where(lo, hi, f"project_id IN ({sql_list(pids)})")
        + " GROUP BY project_id",
    ]


def release_details_sql(src: Source, pair: tuple[int, str], lo: int, hi: int) -> list[str]:
    where = src.where(lo, hi, f"project_id = {sql_literal(pair[0])}", f"release = {sql_literal(pair[1])}")
    return [
        f"SELECT {src.bucket} AS b, {src.statuses()}, {src.durations} FROM {src.table}{where} GROUP BY b",
        f"SELECT {src.sessions}, {src.errored_set} FROM {src.table}{where}",
    ]


def sessions_by_status_sql(src: Source, project_ids: list[int], lo: int, hi: int) -> list[str]:
    where = src.where(lo, hi, f"project_id IN ({sql_list(project_ids)})")
    return [
        f"SELECT {src.bucket} AS b, {src.statuses()} FROM {src.table}{where} GROUP BY b",
        f"SELECT {src.statuses()} FROM {src.table}{where}",
    ]


# -- answers (pure: SQL rows in, the baseline's shapes out) ---------------------------


def choose_page(
    ranked: Iterable[tuple[Any, ...]], first: int
) -> tuple[list[tuple[int, str]], dict[int, int]]:
    """The releases page's releases and each project's sessions, as the baseline ranks them."""
    project_sessions: dict[int, int] = {}
    candidates = []
    for p, r, s, c in ranked:
        p, s, c = int(p), int(s or 0), int(c or 0)
        project_sessions[p] = project_sessions.get(p, 0) + s
        if s > 0 or c > 0:
            candidates.append((-float(s), p, r))
    candidates.sort()
    return [(p, r) for _, p, r in candidates[:first]], project_sessions


def statuses(started: int, crashed: int, abnormal: int, unhandled: int, errored_all: int) -> dict[str, int]:
    return q._statuses(started, crashed, abnormal, unhandled, errored_all)


#: Leaves that are distinct counts, and dicts whose values are.
DISTINCT_KEYS = frozenset({"users", "users_crashed", "errored_set"})
DISTINCT_SERIES = frozenset({"users_series"})
#: Leaves that include the error set (a distinct count).
WITH_ERROR_SET = frozenset({"errored", "healthy"})


def compare(name: str, got: Any, want: Any, tol: Tolerance = EXACT) -> Agreement:
    """Compare relhealth's answer (`got`) with the exact one (`want`), every number: counters
    equal (floats to 1e-9 relative), distinct counts and what is made of them within `tol`
    (`bench.agreement`; exact for the v1 store)."""
    out = Agreement(tol)
    error_set = 0
    if isinstance(want, dict):
        error_set = int(want.get("errored_set") or (want.get("totals") or {}).get("errored_set") or 0)
    _compare(name, "", got, want, None, out, error_set)
    return out


def _compare(
    path: str,
    key: str,
    got: Any,
    want: Any,
    parent: Any,
    out: Agreement,
    error_set: int,
    in_series: bool = False,
) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        series = key in DISTINCT_SERIES
        for k in sorted(set(want) | set(got), key=str):
            if k not in got or k not in want:
                out.fail(f"{path}.{k}", got.get(k), want.get(k))
            else:
                _compare(f"{path}.{k}", str(k), got[k], want[k], want, out, error_set, series)
    elif in_series or key in DISTINCT_KEYS:
        out.distinct(path, got, want)
    elif key in WITH_ERROR_SET:
        out.including(path, got, want, error_set)
    elif key == "crash_free_users" and isinstance(parent, dict):
        out.rate(path, got, want, (int(parent["users"]), int(parent["users_crashed"])), complement=True)
    elif key == "adoption" and isinstance(parent, dict) and want:
        users = int(parent["users"])
        out.rate(path, got, want, (users, round(100.0 * users / want)))
    elif isinstance(want, float) or isinstance(got, float):
        if close(got, want, 1e-9):
            out.compared += 1
        else:
            out.fail(path, got, want)
    else:
        out.exact(path, got, want)


# -- the peer (needs chdb) ------------------------------------------------------------


def chdb_available() -> bool:
    try:
        import chdb  # noqa: F401
    except ImportError:
        return False
    return True


class ClickHousePeer:
    def __init__(self, path: str) -> None:
        from chdb import session

        self.session = session.Session(path)
        self.query("SET output_format_json_quote_64bit_integers = 0")

    def query(self, sql: str) -> list[list[Any]]:
        result = self.session.query(sql, "JSONCompact")
        if result.has_error():
            raise RuntimeError(f"ClickHouse: {result.error_message()}\n{sql}")
        data = result.bytes()
        return json.loads(data)["data"] if data else []

    def close(self) -> None:
        self.session.close()

    def load(
        self, increments: Iterable[SessionIncrement], scratch: Path, chunk: int = 500_000
    ) -> dict[str, Any]:
        started = time.perf_counter()
        for sql in create_statements():
            self.query(sql)
        rows = 0
        path = scratch / "sessions_raw.tsv"
        structure = ", ".join(f"{n} {t}" for n, t in RAW_COLUMNS)
        pending: list[tuple[Any, ...]] = []

        def flush() -> None:
            with path.open("w") as f:
                f.writelines(tsv_lines(pending))
            self.query(
                f"INSERT INTO sessions_raw SELECT * FROM file('{path}', 'TabSeparated', '{structure}')"
            )
            pending.clear()

        for inc in increments:
            pending.append(raw_row(inc))
            rows += 1
            if len(pending) >= chunk:
                flush()
        if pending:
            flush()
        path.unlink(missing_ok=True)
        raw_seconds = time.perf_counter() - started
        for g in ROLLUP_GRANULARITIES:
            self.query(rollup_insert(g))
        for table in ("sessions_raw", "sessions_rollup"):
            self.query(f"OPTIMIZE TABLE {table} FINAL")
        sizes = {
            t: int(b)
            for t, b in self.query(
                "SELECT table, sum(bytes_on_disk) FROM system.parts"
                " WHERE active AND database = currentDatabase() GROUP BY table"
            )
        }
        rollup_rows = self.query("SELECT count() FROM sessions_rollup")[0][0]
        return {
            "raw_rows": rows,
            "rollup_rows": int(rollup_rows),
            "load_seconds": round(time.perf_counter() - started, 2),
            "raw_load_seconds_incl_generation": round(raw_seconds, 2),
            "bytes_on_disk": sizes,
        }

    # -- the questions, in the baseline's shapes ---------------------------------

    def sessions_by_release(self, src: Source, pids: list[int], lo: int, hi: int) -> Any:
        daily_sql, total_sql = sessions_by_release_sql(src, pids, lo, hi)
        out: dict[str, dict[str, Any]] = {}
        for r, b, s, u in self.query(daily_sql):
            o = out.setdefault(r, {"sessions": 0, "users": 0, "series": {}, "users_series": {}})
            o["sessions"] += int(s)
            o["series"][int(b)] = int(s)
            if int(u):  # the baseline lists only days with users
                o["users_series"][int(b)] = int(u)
        for r, u in self.query(total_sql):
            out[r]["users"] = int(u)
        return out

    def releases_page(
        self, src: Source, pids: list[int], lo: int, hi: int, sparkline: tuple[int, int], first: int = 25
    ) -> Any:
        page, project_sessions = choose_page(self.query(ranked_sql(src, pids, lo, hi)), first)
        if not page:
            return {}
        totals_sql, series_sql, users_sql = page_sql(src, page, lo, hi, sparkline)
        days = dict.fromkeys(range(*sparkline, DAY), 0)
        out: dict[tuple[int, str], dict[str, Any]] = {
            pr: {
                "sessions": 0,
                "crashed": 0,
                "users": 0,
                "users_crashed": 0,
                "errored_set": 0,
                "series": dict(days),
            }
            for pr in page
        }
        for p, r, s, c, u, uc, e, _quantiles in self.query(totals_sql):
            o = out[(int(p), r)]
            o.update(sessions=int(s), crashed=int(c), users=int(u), users_crashed=int(uc), errored_set=int(e))
        for p, r, b, s in self.query(series_sql):
            out[(int(p), r)]["series"][int(b)] = int(s)
        project_users = {int(p): int(u) for p, u in self.query(users_sql)}
        for (p, _r), o in out.items():
            o["crash_free"] = q._crash_free(o["crashed"], o["sessions"])
            o["crash_free_users"] = q._crash_free(o["users_crashed"], o["users"])
            o["adoption"] = (
                100.0 * o["users"] / project_users[p] if o["users"] and project_users.get(p) else None
            )
            ps = project_sessions.get(p, 0)
            o["sessions_adoption"] = 100.0 * o["sessions"] / ps if o["sessions"] and ps else None
        return {"page": page, "releases": out}

    def release_details(self, src: Source, pair: tuple[int, str], lo: int, hi: int) -> Any:
        daily_sql, total_sql = release_details_sql(src, pair, lo, hi)
        series = {}
        for b, s, c, a, u, e, err, _quantiles in self.query(daily_sql):
            st = statuses(int(s), int(c), int(a), int(u), int(e) + int(err))
            series[int(b)] = {
                "total": int(s),
                "crashed": int(c),
                "errored": st["errored"],
                "healthy": st["healthy"],
            }
        total, errored_set = self.query(total_sql)[0]
        crashed = sum(v["crashed"] for v in series.values())
        return {
            "series": series,
            "totals": {"total": int(total), "crashed": crashed, "errored_set": int(errored_set)},
        }

    def sessions_by_status(self, src: Source, pids: list[int], lo: int, hi: int) -> Any:
        hourly_sql, total_sql = sessions_by_status_sql(src, pids, lo, hi)
        series = {}
        for b, s, c, a, u, e, err in self.query(hourly_sql):
            series[int(b)] = statuses(int(s), int(c), int(a), int(u), int(e) + int(err))
        s, c, a, u, e, err = (int(v) for v in self.query(total_sql)[0])
        return {"series": series, "totals": statuses(s, c, a, u, e + err), "errored_set": err}


# -- relhealth's side: the comparable part of each baseline answer --------------------


def comparable(name: str, answer: Any) -> Any:
    """The numbers both sides compute identically (duration quantiles are estimated
    differently and are left out)."""
    if name == "releases_page":
        keep = (
            "sessions",
            "crashed",
            "users",
            "users_crashed",
            "errored_set",
            "series",
            "crash_free",
            "crash_free_users",
            "adoption",
            "sessions_adoption",
        )
        if not answer:
            return {}
        return {
            "page": sorted(answer["page"]),
            "releases": {f"{p}:{r}": {k: o[k] for k in keep} for (p, r), o in answer["releases"].items()},
        }
    if name == "release_details":
        return {
            "series": {
                b: {k: v[k] for k in ("total", "crashed", "errored", "healthy")}
                for b, v in answer["series"].items()
            },
            "totals": answer["totals"],
        }
    return answer


# -- the run --------------------------------------------------------------------------


def _stats(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
    }


def _timed(fn: Callable[[], Any], iterations: int, seconds: float) -> tuple[list[float], Any]:
    fn()  # warm-up
    latencies: list[float] = []
    result = None
    deadline = time.perf_counter() + seconds
    for i in range(iterations):
        t0 = time.perf_counter()
        result = fn()
        latencies.append(time.perf_counter() - t0)
        if i + 1 >= min(3, iterations) and time.perf_counter() > deadline:
            break
    return latencies, result


def windows(now: int) -> dict[str, tuple[int, int]]:
    """The bucket ranges of the questions (the REST endpoint's widening)."""
    return {
        "24h": (q._widen_start(now - DAY, HOUR), q._widen_end(now, HOUR)),
        "90d": (q._widen_start(now - 90 * DAY, DAY), q._widen_end(now, DAY)),
    }


def peer_phase(
    m: Manifest,
    iterations: int = 7,
    seconds: float = 30.0,
    log: Callable[[str], None] = print,
    time_baseline: bool = True,
    answers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Load the dataset into chdb, time every question from raw rows and rollups and from
    relhealth's SQL baseline on its SQLite file, and compare the numbers.

    Within `python -m bench` the query phase has already timed the baseline
    (`time_baseline=False`: it runs once here, for its numbers), and the ClickHouse raw
    answers go into `answers` (by question) to be checked against the HTTP answers."""
    if m.backend != "sqlite":
        raise ValueError("the ClickHouse peer compares against the SQLite dataset")
    import chdb

    pids = [int(p["id"]) for p in m.projects]
    w = windows(m.now)
    lo24, hi24 = w["24h"]
    lo90, hi90 = w["90d"]
    from resolvers.breakdown import release_stats_range

    dlo, dhi = release_stats_range(m.now - 90 * DAY, m.now, DAY)[:2]
    detail = (int(m.detail_release[0]), str(m.detail_release[1]))
    conn = sqlite3.connect(m.database_url.split(":///", 1)[1])
    conn.execute("PRAGMA query_only = 1")

    def run_sql(sql: str, args: list[Any]) -> list[Any]:
        return conn.execute(sql, args).fetchall()

    schema = q.detect_schema(run_sql, "sqlite")
    tol = tolerance_for(schema)
    base = q.Baselines(m, "sqlite", schema)

    questions: list[tuple[str, Callable[[], Any], Callable[[ClickHousePeer, Source], Any], int]] = [
        (
            "sessions_90d_by_release",
            lambda: base.sessions_by_release(run_sql, lo90, hi90),
            lambda peer, src: peer.sessions_by_release(src, pids, lo90, hi90),
            DAY,
        ),
        (
            "releases_page",
            lambda: base.releases_page(run_sql, 25),
            lambda peer, src: peer.releases_page(src, pids, lo24, hi24, q.sparkline_range(m.now), 25),
            HOUR,
        ),
        (
            "release_details",
            lambda: base.release_details(run_sql, detail, dlo, dhi),
            lambda peer, src: peer.release_details(src, detail, dlo, dhi),
            DAY,
        ),
        (
            "sessions_24h_by_status",
            lambda: base.sessions_by_status(run_sql, lo24, hi24),
            lambda peer, src: peer.sessions_by_status(src, pids, lo24, hi24),
            HOUR,
        ),
    ]
    out: dict[str, Any] = {
        "engine": f"chdb {chdb.__version__} (ClickHouse {_clickhouse_version()})",
        "schema": schema,
    }
    with tempfile.TemporaryDirectory(prefix="relhealth-chdb-") as tmp:
        peer = ClickHousePeer(os.path.join(tmp, "db"))
        try:
            log("  peer: loading the dataset into chdb")
            out["load"] = load = peer.load(dataset_increments(m), Path(tmp))
            million = m.sessions / 1e6
            out["load"]["mib_per_million_sessions"] = {
                t: round(b / 2**20 / million, 2) for t, b in load["bytes_on_disk"].items()
            }
            for name, baseline, ask, g in questions:
                log(f"  peer: {name}")
                entry: dict[str, Any] = {}
                if time_baseline:
                    sql_lat, want = _timed(baseline, iterations, seconds)
                    entry["relhealth_sql"] = {**_stats(sql_lat), "iterations": len(sql_lat)}
                else:
                    want = baseline()
                for kind in SOURCES:
                    src = Source(kind, g)
                    lat, got = _timed(lambda src=src, ask=ask: ask(peer, src), iterations, seconds)
                    if kind == "raw" and answers is not None:
                        answers[name] = got
                    # ClickHouse's answer is exact and relhealth's may estimate (v2):
                    # ClickHouse's is the reference side.
                    agreement = compare(name, comparable(name, want), comparable(name, got), tol)
                    entry[f"clickhouse_{kind}"] = {
                        **_stats(lat),
                        "iterations": len(lat),
                        **agreement.summary(),
                    }
                    if "relhealth_sql" in entry and entry["relhealth_sql"]["p50_ms"]:
                        entry[f"clickhouse_{kind}"]["relhealth_sql_over_clickhouse_p50"] = round(
                            entry["relhealth_sql"]["p50_ms"]
                            / max(0.01, entry[f"clickhouse_{kind}"]["p50_ms"]),
                            2,
                        )
                out[name] = entry
        finally:
            peer.close()
            conn.close()
    return out


def _clickhouse_version() -> str:
    try:
        import chdb

        return str(chdb.query("SELECT version()", "TabSeparated").bytes().decode().strip())
    except Exception:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.clickhouse_peer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--iterations", type=int, default=7)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    if not chdb_available():
        print("chdb is not installed (pip install -e '.[bench]'): no ClickHouse peer", file=sys.stderr)
        return 2
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    m = asyncio.run(ensure_dataset("sqlite", args.size, args.seed, Path(args.data_dir), log))
    result = {
        "command": f".venv/bin/python -m bench.clickhouse_peer --size {args.size}",
        "dataset": {"size": m.size, "sessions": m.sessions, "updates": m.updates, "users": m.users},
        "clickhouse": peer_phase(m, args.iterations, log=log),
    }
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
