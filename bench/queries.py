"""The benchmarked queries (over HTTP) and their hand-written SQL baselines.

Each `Scenario` knows how to ask relhealth (a GraphQL or REST request, for N releases)
and how to compute the same numbers with plain SQL on the same database through the raw
driver (sqlite3 / asyncpg). `check` compares the two answers on their main numbers, so a
baseline that computes something else would be caught.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.agreement import EXACT, Agreement, Tolerance, close
from storage import sketch
from storage.types import Kind

DAY = 86400
HOUR = 3600

#: The scope of the releases page (its ranking and totals) and of its sparkline.
_PAGE_SCOPE = "{window: {period: LAST_24_HOURS}, at: $now}"
_SPARKLINE_SCOPE = "{window: {period: LAST_14_DAYS}, at: $now}"

# The releases page: v1's `releases(period: "24h") { health(summaryPeriod: "24h",
# healthStatsPeriod: "14d") adoption }`. Its sparkline is a second scope on the release:
# 14 daily buckets, from the first day boundary after `now - 14 d` to `now`'s day.
RELEASES_PAGE = """
query ReleasesPage($org: String!, $projectIds: [ID!]!, $first: Int!, $now: DateTime!) {
  organization(slug: $org) {
    health(scope: %s) {
      releases(first: $first, projects: $projectIds) {
        totalCount
        nodes {
          release {
            projectId
            version
            last14: health(scope: %s) { series(interval: DAY) { intervals total } }
          }
          sessions users crashFreeSessionRate crashFreeUserRate
          sessionsByStatus { crashed errored abnormal unhandled }
          unhandledSessionRate unhandledUserRate durationP50Seconds durationP90Seconds hasSessionData
          adoption { userRate sessionRate users sessions projectUsers projectSessions }
        }
      }
    }
  }
}
""" % (_PAGE_SCOPE, _SPARKLINE_SCOPE)

# v1's `Release.stats(stat: SESSIONS, interval: "1d", start, end)`: the series of a range
# scope starts at the first day boundary after `start` and covers `end`'s day, as v1's did.
_STATS = """
      health(scope: {window: {range: {start: $start, end: $end}}, at: $end}) {
        series(interval: DAY, stat: SESSIONS) {
          intervals total healthy errored crashed abnormal unhandled
          durationP50Seconds durationP90Seconds
          totals { total healthy errored crashed abnormal unhandled }
        }
      }
"""

RELEASE_DETAILS = (
    """
query ReleaseDetails($projectId: ID!, $version: String!, $start: DateTime!, $end: DateTime!) {
  release(project: $projectId, version: $version) {
    projectId
    version
%s
  }
}
"""
    % _STATS
)

# The same field for N releases at once (statement counts for few and many releases):
# the releases with sessions in the 90 days before `now`, each with the range's series.
RELEASE_DETAILS_MANY = (
    """
query ReleaseDetailsMany($org: String!, $projectIds: [ID!]!, $first: Int!, $now: DateTime!,
                         $start: DateTime!, $end: DateTime!) {
  organization(slug: $org) {
    health(scope: {window: {period: LAST_90_DAYS}, at: $now}) {
      releases(first: $first, projects: $projectIds) {
        nodes {
          release {
            projectId
            version
%s
          }
        }
      }
    }
  }
}
"""
    % _STATS
)

#: API v2's largest page (`first` above it is BAD_USER_INPUT).
PAGE_MAX = 100


def page_nodes(body: Any) -> list[Any]:
    """The nodes of a v2 releases page (`organization.health.releases`)."""
    return list(body["data"]["organization"]["health"]["releases"]["nodes"])


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Request:
    method: str  # GET or POST
    path: str
    body: bytes | None = None


@dataclass
class Scenario:
    name: str
    description: str
    request: Callable[[int], Request]  # for N releases
    check: Callable[[Any, Any], bool]  # (HTTP JSON, baseline result) -> same numbers
    baseline_sqlite: Callable[[Any], Any]
    baseline_postgres: Callable[[Any], Any]  # an async callable taking an asyncpg conn


def _gql(query: str, variables: dict[str, Any]) -> Request:
    return Request("POST", "/graphql", json.dumps({"query": query, "variables": variables}).encode())


def _rest(org: str, params: list[tuple[str, str]]) -> Request:
    return Request("GET", f"/api/0/organizations/{org}/sessions/?" + urllib.parse.urlencode(params))


# -- SQL (shared by both drivers; `{p}` is a placeholder list) ----------------------


def _ph(dialect: str, start: int, n: int) -> str:
    if dialect == "sqlite":
        return ", ".join("?" * n)
    return ", ".join(f"${i}" for i in range(start, start + n))


def _arg(dialect: str, i: int) -> str:
    return "?" if dialect == "sqlite" else f"${i}"


class Baselines:
    """Hand-written SQL for each scenario; `run(sql, args)` executes one statement.

    Written as a developer who knows the schema would: each statement names its series
    (`series_id IN (SELECT id FROM release_env WHERE ...)`) so that it seeks on the fact
    table's key (granularity, series, bucket) instead of scanning, reads only the columns
    it needs, and computes only the distinct counts the page shows.

    Distinct counts follow the schema (`detect_schema`): `v1` counts per-user rows
    (`COUNT(DISTINCT did)` on `fact_user`, `sid` on `fact_error`); `v2` reads the Theta
    sketches of `fact_sketch` and unites them in Python with the store's codec (SQL cannot
    merge sketches), one statement per question as the store does.
    """

    def __init__(self, manifest: Any, dialect: str, schema: str = "v1") -> None:
        self.m = manifest
        self.dialect = dialect
        self.schema = schema
        self.project_ids = [p["id"] for p in manifest.projects]
        self._fact_duration: bool | None = None  # looked up on first use

    def duration_bins(
        self,
        run: Callable[[str, list[Any]], list[Any]],
        where: str,
        args: list[Any],
        group: list[str],
    ) -> dict[tuple[Any, ...], dict[int, int]]:
        """Duration sketch bins (bin -> count) per `group`: one `fact_duration` row per bin
        (v1), or one packed blob per bucket in `fact_sketch` (kind 8, `storage.sql.durations`,
        once `fact_duration` is gone)."""
        if self._fact_duration is None:
            self._fact_duration = "fact_duration" in table_names(run, self.dialect)
        n = len(group)
        select_group = "".join(f"{c}, " for c in group)
        join = " f JOIN release_env r ON r.id = f.series_id"
        out: dict[tuple[Any, ...], dict[int, int]] = defaultdict(dict)
        if self._fact_duration:
            group_by = " GROUP BY " + ", ".join([*group, "f.bin"])
            for row in run(
                f"SELECT {select_group}f.bin, SUM(f.count) FROM fact_duration" + join + where + group_by, args
            ):
                if int(row[n + 1] or 0):
                    out[tuple(row[:n])][int(row[n])] = int(row[n + 1])
            return dict(out)
        from storage.sql import durations  # type: ignore[attr-defined, unused-ignore]

        for row in run(
            f"SELECT {select_group}f.sketch FROM fact_sketch"
            + join
            + where
            + f" AND f.kind = {durations.DURATION_BINS}",
            args,
        ):
            bins = out[tuple(row[:n])]
            for b, c in durations.decode(bytes(row[n])).items():
                bins[b] = bins.get(b, 0) + c
        return dict(out)

    def distinct(
        self,
        run: Callable[[str, list[Any]], list[Any]],
        where: str,
        args: list[Any],
        group: list[str],
        kinds: tuple[Kind, ...],
    ) -> dict[tuple[Any, ...], dict[Kind, int]]:
        """Distinct counts of `kinds` per `group` (SQL expressions on `f` / `r`) over the
        fact rows `where` selects; groups without members are absent."""
        cols = ", ".join(group)
        select_group = f"{cols}, " if group else ""
        group_by = f" GROUP BY {cols}" if group else ""
        join = " f JOIN release_env r ON r.id = f.series_id"
        out: dict[tuple[Any, ...], dict[Kind, int]] = defaultdict(dict)
        n = len(group)
        if self.schema == "v2":
            from storage import distinct as codec

            unions: dict[tuple[Any, ...], dict[Kind, codec.Union]] = defaultdict(dict)
            rows = run(
                f"SELECT {select_group}f.kind, f.sketch FROM fact_sketch"
                + join
                + where
                + f" AND f.kind IN ({', '.join(str(int(k)) for k in kinds)})",
                args,
            )
            for row in rows:
                kind = Kind(int(row[n]))
                unions[tuple(row[:n])].setdefault(kind, codec.Union()).add(bytes(row[n + 1]))
            for key, per_kind in unions.items():
                for kind, union in per_kind.items():
                    out[key][kind] = union.count().value
            return dict(out)
        user_kinds = [k for k in kinds if k is not Kind.ERROR_SESSIONS]
        if Kind.ERROR_SESSIONS in kinds:
            for row in run(
                f"SELECT {select_group}COUNT(DISTINCT f.sid) FROM fact_error" + join + where + group_by, args
            ):
                if int(row[n] or 0):
                    out[tuple(row[:n])][Kind.ERROR_SESSIONS] = int(row[n])
        if user_kinds:
            exprs = ", ".join(_v1_user_count(k) for k in user_kinds)
            for row in run(f"SELECT {select_group}{exprs} FROM fact_user" + join + where + group_by, args):
                for i, kind in enumerate(user_kinds):
                    if int(row[n + i] or 0):
                        out[tuple(row[:n])][kind] = int(row[n + i])
        return dict(out)

    # releases page: 25 releases by sessions over 24h; their 24h overview, 24h adoption,
    # and a sparkline: daily sessions over the 14 days before now (`sparkline_range`).
    def releases_page(self, run: Callable[[str, list[Any]], list[Any]], first: int = 25) -> Any:
        d = self.dialect
        now = self.m.now
        start = _widen_start(now - DAY, HOUR)
        end = _widen_end(now, HOUR)
        pids = self.project_ids
        np_ = len(pids)
        # 1. every release's sessions over 24h (ranking; project totals for adoption)
        ranked = run(
            "SELECT r.project_id, r.release, SUM(f.started) AS s,"
            " SUM(f.crashed) + SUM(f.abnormal) + SUM(f.unhandled) + SUM(f.errored_preaggr)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id"
            f" WHERE f.granularity = {HOUR} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id IN ({_ph(d, 3, np_)}))"
            " GROUP BY r.project_id, r.release",
            [start, end, *pids],
        )
        project_sessions: dict[int, int] = defaultdict(int)
        candidates = []
        for p, r, s, c in ranked:
            project_sessions[p] += int(s or 0)
            if int(s or 0) > 0 or int(c or 0) > 0:
                candidates.append((-float(s or 0), p, r))
        candidates.sort()
        page = [(p, r) for _, p, r in candidates[:first]]
        if not page:
            return {}
        releases = sorted({r for _, r in page})
        nr = len(releases)
        page_pids = sorted({p for p, _ in page})
        npp = len(page_pids)
        where = (
            f" WHERE f.granularity = {HOUR} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id IN ({_ph(d, 3, npp)})"
            f" AND release IN ({_ph(d, 3 + npp, nr)}))"
        )
        args = [start, end, *page_pids, *releases]
        # 2. the counters of the page's releases over 24h
        totals = run(
            "SELECT r.project_id, r.release, SUM(f.started), SUM(f.crashed), SUM(f.dur_count)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id"
            + where
            + " GROUP BY r.project_id, r.release",
            args,
        )
        # 2b. their sparkline: daily sessions over the 14 days before now
        lo14, hi14 = sparkline_range(now)
        daily = run(
            "SELECT r.project_id, r.release, f.bucket, SUM(f.started)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id"
            + where.replace(f"granularity = {HOUR}", f"granularity = {DAY}")
            + " GROUP BY r.project_id, r.release, f.bucket",
            [lo14, hi14, *page_pids, *releases],
        )
        # 3. the error set and users, 4. the duration sketch, per release over 24h
        per_release = self.distinct(
            run,
            where,
            args,
            ["r.project_id", "r.release"],
            (Kind.ERROR_SESSIONS, Kind.USERS, Kind.CRASHED_USERS),
        )
        bins = self.duration_bins(run, where, args, ["r.project_id", "r.release"])
        # 5. adoption: distinct users per project over 24h
        project_users = self.distinct(
            run,
            f" WHERE f.granularity = {HOUR} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id IN ({_ph(d, 3, npp)}))",
            [start, end, *page_pids],
            ["r.project_id"],
            (Kind.USERS,),
        )
        wanted = set(page)
        out: dict[tuple[int, str], dict[str, Any]] = {
            pr: {
                "sessions": 0,
                "crashed": 0,
                "series": dict.fromkeys(range(lo14, hi14, DAY), 0),
                "users": 0,
                "users_crashed": 0,
                "errored_set": 0,
                "bins": {},
                "dur_count": 0,
            }
            for pr in page
        }
        for p, r, s, c, dc in totals:
            if (p, r) in wanted:
                o = out[(p, r)]
                o["sessions"] += int(s or 0)
                o["crashed"] += int(c or 0)
                o["dur_count"] += int(dc or 0)
        for p, r, b, s in daily:
            if (p, r) in wanted:
                out[(p, r)]["series"][int(b)] = int(s or 0)
        for (p, r), counts in per_release.items():
            if (int(p), r) in wanted:
                o = out[(int(p), r)]
                o["errored_set"] = counts.get(Kind.ERROR_SESSIONS, 0)
                o["users"] = counts.get(Kind.USERS, 0)
                o["users_crashed"] = counts.get(Kind.CRASHED_USERS, 0)
        for (p, r), per_bin in bins.items():
            if (int(p), r) in wanted:
                out[(int(p), r)]["bins"] = per_bin
        pu = {int(key[0]): counts[Kind.USERS] for key, counts in project_users.items()}
        for (p, _r), o in out.items():
            o["crash_free"] = _crash_free(o["crashed"], o["sessions"])
            o["crash_free_users"] = _crash_free(o["users_crashed"], o["users"])
            o["p50_bins"] = sketch.quantile(o["bins"], 0.5, 0, 1e18) if o["bins"] else None
            # None when either count is 0, as `formulas.adoption_percentage`
            o["adoption"] = 100.0 * o["users"] / pu[p] if o["users"] and pu.get(p) else None
            o["sessions_adoption"] = (
                100.0 * o["sessions"] / project_sessions[p] if o["sessions"] and project_sessions[p] else None
            )
        return {"page": page, "releases": out}

    # release details: one release's daily sessions by status over 90 days, with p50/p90
    def release_details(
        self, run: Callable[[str, list[Any]], list[Any]], pair: tuple[int, str], lo: int, hi: int
    ) -> Any:
        d = self.dialect
        where = (
            f" WHERE f.granularity = {DAY} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id = {_arg(d, 3)} AND release = {_arg(d, 4)})"
        )
        args = [lo, hi, pair[0], pair[1]]
        daily = run(
            "SELECT f.bucket, SUM(f.started), SUM(f.crashed), SUM(f.abnormal), SUM(f.unhandled),"
            " SUM(f.errored_preaggr), MIN(f.dur_min), MAX(f.dur_max)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id" + where + " GROUP BY f.bucket",
            args,
        )
        errors = self.distinct(run, where, args, ["f.bucket"], (Kind.ERROR_SESSIONS,))
        errors_total = self.distinct(run, where, args, [], (Kind.ERROR_SESSIONS,))
        bins = self.duration_bins(run, where, args, ["f.bucket"])
        err = {int(key[0]): c[Kind.ERROR_SESSIONS] for key, c in errors.items()}
        per_bucket_bins = {int(key[0]): per_bin for key, per_bin in bins.items()}
        errored_set = errors_total.get((), {}).get(Kind.ERROR_SESSIONS, 0)
        total = {"total": 0, "crashed": 0, "errored_set": errored_set}
        series = {}
        for b, s, c, a, u, e, dmin, dmax in daily:
            b = int(b)
            s, c, a, u, e = (int(v or 0) for v in (s, c, a, u, e))
            errored_all = e + err.get(b, 0)
            bb = per_bucket_bins.get(b)
            series[b] = {
                "total": s,
                "crashed": c,
                "errored": max(0, errored_all - c - a - u),
                "healthy": max(0, s - errored_all),
                "p50": sketch.quantile(bb, 0.5, dmin, dmax) if bb else None,
            }
            total["total"] += s
            total["crashed"] += c
        return {"series": series, "totals": total}

    # sessions query: sum(session) and count_unique(user) by release, 90 days at 1d
    def sessions_by_release(self, run: Callable[[str, list[Any]], list[Any]], lo: int, hi: int) -> Any:
        d = self.dialect
        pids = self.project_ids
        where = (
            f" WHERE f.granularity = {DAY} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id IN ({_ph(d, 3, len(pids))}))"
        )
        args = [lo, hi, *pids]
        daily = run(
            "SELECT r.release, f.bucket, SUM(f.started)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id"
            + where
            + " GROUP BY r.release, f.bucket",
            args,
        )
        users_daily = self.distinct(run, where, args, ["r.release", "f.bucket"], (Kind.USERS,))
        users_total = self.distinct(run, where, args, ["r.release"], (Kind.USERS,))
        out: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"sessions": 0, "users": 0, "series": {}, "users_series": {}}
        )
        for r, b, s in daily:
            out[r]["sessions"] += int(s or 0)
            out[r]["series"][int(b)] = int(s or 0)
        for (r, b), counts in users_daily.items():
            out[r]["users_series"][int(b)] = counts[Kind.USERS]
        for (r,), counts in users_total.items():
            out[r]["users"] = counts[Kind.USERS]
        return dict(out)

    # sessions query: sum(session) by session.status, 24 hours at 1h
    def sessions_by_status(self, run: Callable[[str, list[Any]], list[Any]], lo: int, hi: int) -> Any:
        d = self.dialect
        pids = self.project_ids
        where = (
            f" WHERE f.granularity = {HOUR} AND f.bucket >= {_arg(d, 1)} AND f.bucket < {_arg(d, 2)}"
            f" AND f.series_id IN (SELECT id FROM release_env WHERE project_id IN ({_ph(d, 3, len(pids))}))"
        )
        args = [lo, hi, *pids]
        hourly = run(
            "SELECT f.bucket, SUM(f.started), SUM(f.crashed), SUM(f.abnormal), SUM(f.unhandled),"
            " SUM(f.errored_preaggr)"
            " FROM fact_counter f JOIN release_env r ON r.id = f.series_id" + where + " GROUP BY f.bucket",
            args,
        )
        errors = self.distinct(run, where, args, ["f.bucket"], (Kind.ERROR_SESSIONS,))
        errors_total = self.distinct(run, where, args, [], (Kind.ERROR_SESSIONS,))
        err = {int(key[0]): c[Kind.ERROR_SESSIONS] for key, c in errors.items()}
        started = crashed = abnormal = unhandled = preaggr = 0
        series: dict[int, dict[str, int]] = {}
        for b, s, c, a, u, e in hourly:
            s, c, a, u, e = (int(v or 0) for v in (s, c, a, u, e))
            started, crashed, abnormal, unhandled, preaggr = (
                started + s,
                crashed + c,
                abnormal + a,
                unhandled + u,
                preaggr + e,
            )
            series[int(b)] = _statuses(s, c, a, u, e + err.get(int(b), 0))
        errored_set = errors_total.get((), {}).get(Kind.ERROR_SESSIONS, 0)
        totals = _statuses(started, crashed, abnormal, unhandled, preaggr + errored_set)
        return {"series": series, "totals": totals, "errored_set": errored_set}


def _v1_user_count(kind: Kind) -> str:
    if kind is Kind.USERS:
        return "COUNT(DISTINCT f.did)"
    from storage.distinct import USER_TAG_KINDS

    mask = dict(USER_TAG_KINDS)[kind]
    return f"COUNT(DISTINCT CASE WHEN f.tags & {mask} <> 0 THEN f.did END)"


def table_names(run: Callable[[str, list[Any]], list[Any]], dialect: str) -> set[str]:
    if dialect == "sqlite":
        rows = run("SELECT name FROM sqlite_master WHERE type = 'table'", [])
    else:
        rows = run(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()", []
        )
    return {str(r[0]) for r in rows}


def detect_schema(run: Callable[[str, list[Any]], list[Any]], dialect: str) -> str:
    """`v2` when the store writes sketches (`fact_sketch` has rows), else `v1` when it has
    per-user rows (`fact_user`). The v1 schema already has an empty `fact_sketch` table
    (migration 0003), so the table's existence alone does not tell."""
    names = table_names(run, dialect)
    if "fact_sketch" in names and run("SELECT 1 FROM fact_sketch LIMIT 1", []):
        return "v2"
    if "fact_user" in names:
        return "v1"
    raise RuntimeError(f"no distinct-count table with data (fact_sketch, fact_user): {sorted(names)}")


def _statuses(started: int, crashed: int, abnormal: int, unhandled: int, errored_all: int) -> dict[str, int]:
    return {
        "crashed": crashed,
        "abnormal": abnormal,
        "unhandled": unhandled,
        "errored": max(0, errored_all - crashed - abnormal - unhandled),
        "healthy": max(0, started - errored_all),
    }


def _crash_free(crashed: int, total: int) -> float | None:
    if not total:
        return None
    return max(0.0, 100.0 - 100.0 * crashed / total)


def sparkline_range(now: float) -> tuple[int, int]:
    """The day buckets `[lo, hi)` of the releases page's sparkline, a `LAST_14_DAYS` series
    of API v2 (release-health.md 5.11): from the first day boundary strictly after
    `now - 14 d` up to and including `now`'s day, so 14 buckets whose first is whole and
    whose last is the day so far (v1's `healthStatsPeriod: "14d"` answered 24 hourly
    buckets of the summary period instead, an upstream quirk)."""
    return (int((now - 14 * DAY) // DAY) + 1) * DAY, (int(now // DAY) + 1) * DAY


def _widen_start(t: float, size: int) -> int:
    return int(t // size) * size


def _widen_end(t: float, size: int) -> int:
    return -(-int(t) // size) * size if t == int(t) else (int(t // size) + 1) * size


# -- comparisons of HTTP answers with reference answers ------------------------------
#
# `base` is a reference answer in the shapes `Baselines` returns (the hand-written SQL, or
# ClickHouse's peer, which answers in the same shapes); `tol` says how far relhealth's
# distinct counts may be from the reference's (`bench.agreement`).


def _close(a: float | None, b: float | None, tol: float = 1e-6) -> bool:
    return close(a, b, tol)


def _times(intervals: list[str]) -> list[int]:
    return [int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()) for t in intervals]


def check_releases_page(body: Any, base: Any, tol: Tolerance = EXACT) -> Agreement:
    out = Agreement(tol)
    nodes = page_nodes(body)
    page = [(int(n["release"]["projectId"]), n["release"]["version"]) for n in nodes]
    if set(page) != set(base["page"]):
        out.fail("page", sorted(set(page) - set(base["page"])), sorted(set(base["page"]) - set(page)))
        return out
    for n in nodes:
        pair = (int(n["release"]["projectId"]), n["release"]["version"])
        o = base["releases"][pair]
        a = n["adoption"] or {}
        out.exact((pair, "sessions"), n["sessions"], o["sessions"])
        out.exact((pair, "crash_free"), n["crashFreeSessionRate"], o["crash_free"])
        out.exact((pair, "sessions_adoption"), a.get("sessionRate"), o["sessions_adoption"])
        out.distinct((pair, "users"), n["users"], o["users"])
        users = (o["users"], o["users_crashed"])
        out.rate(
            (pair, "crash_free_users"), n["crashFreeUserRate"], o["crash_free_users"], users, complement=True
        )
        project_users = round(100.0 * o["users"] / o["adoption"]) if o["adoption"] else 0
        out.rate((pair, "adoption"), a.get("userRate"), o["adoption"], (o["users"], project_users))
        # the sparkline: the same day buckets, the same sessions in each
        series = n["release"]["last14"]["series"]
        times = _times(series["intervals"])
        if times != sorted(o["series"]):
            out.fail((pair, "sparkline buckets"), times, sorted(o["series"]))
            continue
        for t, total in zip(times, series["total"], strict=True):
            out.exact((pair, "sparkline", t), total, o["series"][t])
    return out


def check_release_details(body: Any, base: Any, tol: Tolerance = EXACT) -> Agreement:
    out = Agreement(tol)
    s = body["data"]["release"]["health"]["series"]
    times = _times(s["intervals"])
    for i, t in enumerate(times):
        b = base["series"].get(t, {"total": 0, "crashed": 0, "errored": 0, "healthy": 0})
        for key in ("total", "crashed"):
            out.exact((t, key), s[key][i], b[key])
        # errored and healthy come from the error set (a distinct count)
        for key in ("errored", "healthy"):
            out.including((t, key), s[key][i], b[key], base["totals"]["errored_set"])
    out.exact(("totals", "total"), s["totals"]["total"], base["totals"]["total"])
    return out


def check_sessions_by_release(body: Any, base: Any, tol: Tolerance = EXACT) -> Agreement:
    out = Agreement(tol)
    groups = body["groups"]
    if not groups:
        out.fail("groups", 0, len(base))
    for g in groups:
        release = g["by"]["release"]
        b = base.get(release)
        if b is None:
            out.fail((release, "group"), "present", None)
            continue
        out.exact((release, "sum(session)"), g["totals"]["sum(session)"], b["sessions"])
        out.exact((release, "series sum(session)"), sum(g["series"]["sum(session)"]), b["sessions"])
        out.distinct((release, "count_unique(user)"), g["totals"]["count_unique(user)"], b["users"])
    return out


def check_sessions_by_status(body: Any, base: Any, tol: Tolerance = EXACT) -> Agreement:
    out = Agreement(tol)
    got = {g["by"]["session.status"]: g["totals"]["sum(session)"] for g in body["groups"]}
    for status in ("healthy", "errored", "crashed", "abnormal", "unhandled"):
        want = base["totals"][status]
        if status in ("errored", "healthy"):
            out.including(status, got.get(status, 0), want, base["errored_set"])
        else:
            out.exact(status, got.get(status, 0), want)
    return out


Check = Callable[[Any, Any, Tolerance], Agreement]

#: The check of each benchmarked question.
CHECKS: dict[str, Check] = {
    "releases_page": check_releases_page,
    "release_details": check_release_details,
    "sessions_90d_by_release": check_sessions_by_release,
    "sessions_24h_by_status": check_sessions_by_status,
}
