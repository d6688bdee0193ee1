"""Distinct-count alternatives, measured on the benchmark dataset (issue 8, section 1).

`python -m bench.distinct [--size small|medium]` answers "count_unique(user) by release
over the last N days, total and daily series" (N in 1, 7, 14, 30, 90; the window ends now,
as every `statsPeriod` question) three ways and prints JSON:

a. `store_read`: the store's own read path (`SessionStore.aggregate` of users by release
   at day granularity, totals and a 1d series): per-user rows on the v1 schema, merged
   Theta sketches on v2; checked against the exact answer computed from the regenerated
   increments (the reference of (b) and (c); the v1 store equals it);
b. `hll_lg12` / `hll_lg14`: an Apache DataSketches HLL sketch per (series, day), stored
   serialized; the answer merges the window's sketches per release (and per day over the
   environments); timed from the serialized bytes, with worst and mean relative error of
   the totals against the exact answer;
c. `latest_day_histogram`: per (release, day) exact distinct counts for the daily series,
   plus per release a histogram of each user's latest day, so that the window's total is
   `SUM(users) WHERE day >= start`: two small SQLite tables, checked equal to the exact
   answer.

Sketch and histogram construction (what ingest would maintain) is timed separately from
the query. `datasketches` is an optional benchmark dependency (`.[bench]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import queries as q
from bench.clickhouse_peer import dataset_increments
from bench.dataset import DEFAULT_DATA_DIR, SIZES, Manifest, ensure_dataset
from bench.loadgen import percentile
from storage.types import SessionIncrement

DAY = q.DAY
WINDOW_DAYS = (1, 7, 14, 30, 90)
LG_KS = (12, 14)

Series = tuple[int, str, str]  # project id, release, environment


# -- pure helpers --------------------------------------------------------------------


class UserDays:
    """Each series' users per day, from increments (users only; buckets by session start)."""

    def __init__(self) -> None:
        self.by_series_day: dict[tuple[Series, int], set[str]] = defaultdict(set)

    def add_all(self, increments: Iterable[SessionIncrement]) -> UserDays:
        for inc in increments:
            if inc.user:
                day = int(inc.started // DAY) * DAY
                self.by_series_day[((inc.project_id, inc.release, inc.environment or ""), day)].add(inc.user)
        return self


def latest_day_histogram(user_days: UserDays) -> dict[str, dict[int, int]]:
    """Per release: day -> number of users whose latest day with this release is that day."""
    latest: dict[tuple[str, str], int] = {}
    for ((_p, release, _e), day), users in user_days.by_series_day.items():
        for u in users:
            key = (release, u)
            if latest.get(key, -1) < day:
                latest[key] = day
    hist: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (release, _u), day in latest.items():
        hist[release][day] += 1
    return {r: dict(h) for r, h in hist.items()}


def daily_exact(user_days: UserDays) -> dict[tuple[str, int], int]:
    """Per (release, day): exact distinct users over the release's series."""
    merged: dict[tuple[str, int], set[str]] = defaultdict(set)
    for ((_p, release, _e), day), users in user_days.by_series_day.items():
        merged[(release, day)] |= users
    return {k: len(v) for k, v in merged.items()}


def window_exact(user_days: UserDays, lo: int, hi: int) -> dict[str, int]:
    """Per release: distinct users over the days in [lo, hi), all series."""
    merged: dict[str, set[str]] = defaultdict(set)
    for ((_p, release, _e), day), users in user_days.by_series_day.items():
        if lo <= day < hi:
            merged[release] |= users
    return {r: len(u) for r, u in merged.items() if u}


def users_in_window(hist: dict[str, dict[int, int]], lo: int) -> dict[str, int]:
    """Users in the window [lo, now] per release: the histogram's tail sum."""
    out = {r: sum(n for d, n in h.items() if d >= lo) for r, h in hist.items()}
    return {r: n for r, n in out.items() if n}


def relative_errors(estimates: dict[str, float], exact: dict[str, int]) -> dict[str, float | None]:
    errors = [abs(estimates.get(r, 0.0) - n) / n for r, n in exact.items() if n]
    if not errors:
        return {"worst": None, "mean": None}
    return {"worst": round(max(errors), 5), "mean": round(sum(errors) / len(errors), 5)}


def window_start(now: int, days: int) -> int:
    return q._widen_start(now - days * DAY, DAY)


# -- measurements --------------------------------------------------------------------


def _timed(fn: Callable[[], Any], iterations: int) -> tuple[dict[str, float], Any]:
    fn()
    lat = []
    result = None
    for _ in range(iterations):
        t0 = time.perf_counter()
        result = fn()
        lat.append(time.perf_counter() - t0)
    return {
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p95_ms": round(percentile(lat, 95) * 1000, 2),
    }, result


async def store_answers(
    m: Manifest, windows: dict[int, int], hi: int, iterations: int
) -> dict[int, tuple[dict[str, float], tuple[dict[str, int], dict[Any, int]]]]:
    """Per window (days -> start): the store's totals and daily users by release, timed."""
    from storage.engine import create_engine
    from storage.store import SessionStore
    from storage.types import AggregateQuery, Quantity

    pids = tuple(int(p["id"]) for p in m.projects)
    engine = create_engine(m.database_url)
    store = SessionStore(engine)
    out = {}
    try:
        for n, lo in windows.items():

            async def answer(lo: int = lo) -> tuple[dict[str, int], dict[Any, int]]:
                base = AggregateQuery(pids, lo, hi, DAY, frozenset({Quantity.USERS}), group_by=("release",))
                totals = await store.aggregate(base)
                daily = await store.aggregate(replace(base, interval=DAY))
                return (
                    {str(g.release): a.users.all for g, a in totals.totals.items() if a.users.all},
                    {
                        (str(g.release), b): a.users.all
                        for g, per in daily.series.items()
                        for b, a in per.items()
                        if a.users.all
                    },
                )

            await answer()  # warm-up
            lat = []
            result: Any = None
            for _ in range(iterations):
                t0 = time.perf_counter()
                result = await answer()
                lat.append(time.perf_counter() - t0)
            timing = {
                "p50_ms": round(percentile(lat, 50) * 1000, 2),
                "p95_ms": round(percentile(lat, 95) * 1000, 2),
            }
            out[n] = (timing, result)
    finally:
        await engine.dispose()
    return out


def run(m: Manifest, iterations: int, log: Callable[[str], None]) -> dict[str, Any]:
    import datasketches as ds

    hi = q._widen_end(m.now, DAY)
    out: dict[str, Any] = {"windows_days": list(WINDOW_DAYS)}
    t0 = time.perf_counter()
    user_days = UserDays().add_all(dataset_increments(m))
    out["regenerate_seconds"] = round(time.perf_counter() - t0, 2)

    # The exact answers: unions of the increments' user sets over the window's days.
    daily_all = daily_exact(user_days)
    exact: dict[int, dict[str, int]] = {}
    exact_daily: dict[int, dict[Any, int]] = {}
    windows = {n: window_start(m.now, n) for n in WINDOW_DAYS}
    for n, lo in windows.items():
        exact[n] = window_exact(user_days, lo, hi)
        exact_daily[n] = {k: v for k, v in daily_all.items() if lo <= k[1] < hi}

    # (a) the store's read path
    a: dict[str, Any] = {"user_days": sum(len(u) for u in user_days.by_series_day.values())}
    for n, (timing, (totals, daily)) in asyncio.run(store_answers(m, windows, hi, iterations)).items():
        a[f"{n}d"] = {
            **timing,
            "equal_to_exact": totals == exact[n] and daily == exact_daily[n],
            "total_error": relative_errors({r: float(v) for r, v in totals.items()}, exact[n]),
        }
    out["store_read"] = a
    log("  distinct: store read path done")

    # (b) HLL per (series, day), serialized
    for lg_k in LG_KS:
        t0 = time.perf_counter()
        stored: dict[tuple[Series, int], bytes] = {}
        for key, users in user_days.by_series_day.items():
            sk = ds.hll_sketch(lg_k, ds.tgt_hll_type.HLL_8)
            for u in sorted(users):  # HLL's estimate depends on insertion order: be deterministic
                sk.update(u)
            stored[key] = sk.serialize_compact()
        build = time.perf_counter() - t0
        by_release: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
        for ((_p, release, _e), day), blob in stored.items():
            by_release[release].append((day, blob))

        def merged(
            lo: int, lg_k: int = lg_k, by_release: Any = by_release
        ) -> tuple[dict[str, float], dict[Any, float]]:
            totals: dict[str, float] = {}
            daily: dict[Any, float] = {}
            for release, items in by_release.items():
                total = ds.hll_union(lg_k)
                days: dict[int, Any] = {}
                for day, blob in items:
                    if lo <= day < hi:
                        sk = ds.hll_sketch.deserialize(blob)
                        total.update(sk)
                        u = days.get(day)
                        if u is None:
                            u = days[day] = ds.hll_union(lg_k)
                        u.update(sk)
                if days:
                    totals[release] = total.get_estimate()
                    for day, u in days.items():
                        daily[(release, day)] = u.get_estimate()
            return totals, daily

        b: dict[str, Any] = {
            "build_seconds": round(build, 3),
            "stored_bytes": sum(len(v) for v in stored.values()),
            "sketches": len(stored),
        }
        for n in WINDOW_DAYS:
            lo = window_start(m.now, n)
            timing, (totals, daily) = _timed(lambda lo=lo: merged(lo), iterations)
            b[f"{n}d"] = {
                **timing,
                "total_error": relative_errors(totals, exact[n]),
                "daily_error": relative_errors(
                    {f"{r}:{d}": v for (r, d), v in daily.items()},
                    {f"{r}:{d}": v for (r, d), v in exact_daily[n].items()},
                ),
            }
        out[f"hll_lg{lg_k}"] = b
        log(f"  distinct: HLL lg_k {lg_k} done")

    # (c) per-day exact counts + latest-day histogram, in SQLite
    t0 = time.perf_counter()
    hist = latest_day_histogram(user_days)
    daily_counts = daily_exact(user_days)
    mem = sqlite3.connect(":memory:")
    mem.execute(
        "CREATE TABLE users_daily (release TEXT, day INTEGER, users INTEGER, PRIMARY KEY (release, day))"
    )
    mem.execute(
        "CREATE TABLE users_latest (release TEXT, day INTEGER, users INTEGER, PRIMARY KEY (release, day))"
    )
    mem.executemany(
        "INSERT INTO users_daily VALUES (?, ?, ?)", [(r, d, n) for (r, d), n in daily_counts.items()]
    )
    mem.executemany(
        "INSERT INTO users_latest VALUES (?, ?, ?)",
        [(r, d, n) for r, h in hist.items() for d, n in h.items()],
    )
    build = time.perf_counter() - t0

    def histogram_answer(lo: int) -> tuple[dict[str, int], dict[Any, int]]:
        total = mem.execute(
            "SELECT release, SUM(users) FROM users_latest WHERE day >= ? AND day < ? GROUP BY release",
            (lo, hi),
        ).fetchall()
        daily = mem.execute(
            "SELECT release, day, users FROM users_daily WHERE day >= ? AND day < ?", (lo, hi)
        ).fetchall()
        return {r: int(n) for r, n in total if n}, {(r, int(d)): int(n) for r, d, n in daily}

    c: dict[str, Any] = {
        "build_seconds": round(build, 3),
        "histogram_rows": sum(len(h) for h in hist.values()),
        "daily_rows": len(daily_counts),
    }
    for n in WINDOW_DAYS:
        lo = window_start(m.now, n)
        timing, (totals, daily) = _timed(lambda lo=lo: histogram_answer(lo), iterations)
        c[f"{n}d"] = {
            **timing,
            "equal_to_exact": totals == {r: v for r, v in exact[n].items() if v} and daily == exact_daily[n],
        }
    mem.close()
    out["latest_day_histogram"] = c
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distinct", description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--iterations", type=int, default=7)
    parser.add_argument("--output", help="also write the JSON here")
    args = parser.parse_args(argv)
    try:
        import datasketches  # noqa: F401
    except ImportError:
        print("datasketches is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    log = lambda s: print(s, file=sys.stderr)  # noqa: E731
    m = asyncio.run(ensure_dataset("sqlite", args.size, args.seed, Path(args.data_dir), log))
    result = {
        "command": f".venv/bin/python -m bench.distinct --size {args.size}",
        "dataset": {"size": m.size, "sessions": m.sessions, "users": m.users, "releases": m.releases},
        "distinct": run(m, args.iterations, log),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
