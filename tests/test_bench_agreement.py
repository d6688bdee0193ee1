"""The benchmark's pure parts: agreement within the sketch error, the checks of HTTP
answers against reference answers, the store size, and the target verdicts."""

from __future__ import annotations

import sqlite3

import pytest

from bench import queries as q
from bench import run as bench_run
from bench.agreement import EXACT, SIGMAS, Agreement, Tolerance, sketch_tolerance, tolerance_for
from bench.store_size import per_million, sqlite_sizes
from storage.distinct import EXACT_UP_TO, RELATIVE_STANDARD_ERROR

TOL = Tolerance(exact_up_to=1000, relative=0.02)


def test_the_v2_tolerance_is_the_codecs_exact_limit_and_four_standard_errors():
    assert tolerance_for("v1") is EXACT and not EXACT.estimates
    tol = tolerance_for("v2")
    assert tol == sketch_tolerance()
    assert tol.exact_up_to == 16384 == EXACT_UP_TO  # 2 ** 14
    assert tol.relative == pytest.approx(4 / 128) == SIGMAS * RELATIVE_STANDARD_ERROR  # 1 / sqrt(2 ** 14)


def test_distinct_counts_are_exact_up_to_the_limit_then_within_the_error():
    a = Agreement(TOL)
    a.distinct("at the limit", 1000, 1000)
    a.distinct("estimate 1.9 % high", 2038, 2000)
    a.distinct("estimate 2 % low", 1960, 2000)
    assert a.equal and a.compared == 3 and a.estimated == 2
    assert a.worst_relative_error == pytest.approx(0.02)
    a.distinct("below the limit, off by one", 999, 1000)
    a.distinct("estimate 2.5 % high", 2050, 2000)
    a.distinct("missing", None, 2000)
    assert [p[0] for p in a.problems] == ["below the limit, off by one", "estimate 2.5 % high", "missing"]
    assert not Agreement().equal  # nothing compared is no agreement


def test_counters_are_exact_and_floats_equal_up_to_noise():
    a = Agreement(TOL)
    a.exact("sessions", 10_000_000, 10_000_000)
    a.exact("rate", 99.5, 99.5 + 1e-9)
    a.exact("page", [(1, "a")], [(1, "a")])
    assert a.equal
    a.exact("off by one in ten million", 10_000_001, 10_000_000)
    assert a.problems == [("off by one in ten million", 10_000_001, 10_000_000)]


def test_counts_including_an_estimated_set_move_by_the_sets_error_only():
    a = Agreement(TOL)
    # healthy = started - error set: with an error set of 5,000 (estimated) the count may
    # move by 2 % of 5,000 = 100, not 2 % of itself
    a.including("healthy", 95_090, 95_000, part=5000)
    a.including("errored small set", 40, 40, part=500)
    assert a.equal and a.estimated == 1
    a.including("healthy too far", 95_101, 95_000, part=5000)
    a.including("errored, exact set", 41, 40, part=500)
    assert [p[0] for p in a.problems] == ["healthy too far", "errored, exact set"]


def test_rates_of_estimated_counts_allow_the_propagated_error():
    a = Agreement(TOL)
    # crash-free users with 50 crashed of 2,000 users: 97.5 %; 2 % error on each count
    # moves the ratio by at most 1.02 / 0.98 - 1 = 4.08 % of 2.5 = 0.102 points
    a.rate("cfu", 97.6, 97.5, (2000, 50), complement=True)
    # adoption 25 % (2,000 of 8,000): at most 4.08 % of 25 = 1.02 points
    a.rate("adoption", 26.0, 25.0, (2000, 8000))
    a.rate("exact counts", 97.5, 97.5, (900, 50), complement=True)
    assert a.equal
    a.rate("cfu too far", 97.65, 97.5, (2000, 50), complement=True)
    a.rate("exact counts, off", 97.6, 97.5, (900, 50), complement=True)
    assert [p[0] for p in a.problems] == ["cfu too far", "exact counts, off"]


def _body_90d(groups: dict[str, tuple[int, int]]) -> dict:
    return {
        "groups": [
            {
                "by": {"release": r},
                "totals": {"sum(session)": s, "count_unique(user)": u},
                "series": {"sum(session)": [s - 1, 1]},
            }
            for r, (s, u) in groups.items()
        ]
    }


def test_the_sessions_check_reads_the_http_groups_against_the_reference():
    ref = {
        "a@1": {"sessions": 50_000, "users": 20_000},
        "a@2": {"sessions": 300, "users": 120},
        "a@3": {"sessions": 5, "users": 5},  # beyond the page of the HTTP answer: not checked
    }
    body = _body_90d({"a@1": (50_000, 20_300), "a@2": (300, 120)})
    assert not q.check_sessions_by_release(body, ref, EXACT).equal
    ok = q.check_sessions_by_release(body, ref, TOL)  # 1.5 % off above the limit
    assert ok.equal and ok.estimated == 1
    assert not q.check_sessions_by_release(_body_90d({"a@2": (300, 121)}), ref, TOL).equal
    assert not q.check_sessions_by_release(_body_90d({"b@1": (1, 1)}), ref, TOL).equal
    assert not q.check_sessions_by_release({"groups": []}, ref, TOL).equal


def _page_body(sparkline: list[int], start: int) -> dict:
    """A v2 releases page of one release (`queries.RELEASES_PAGE`'s shape)."""
    node = {
        "release": {
            "projectId": "1",
            "version": "a@1",
            "last14": {
                "series": {
                    "intervals": [q.iso(start + i * q.DAY) for i in range(len(sparkline))],
                    "total": sparkline,
                }
            },
        },
        "sessions": 10,
        "users": 4,
        "crashFreeSessionRate": 90.0,
        "crashFreeUserRate": 75.0,
        "adoption": {"userRate": 50.0, "sessionRate": 25.0},
    }
    return {"data": {"organization": {"health": {"releases": {"nodes": [node]}}}}}


def test_the_releases_page_check_reads_v2_and_compares_the_14_day_sparkline():
    now = 1_750_000_000.0  # 2025-06-15T15:06:40Z
    lo, hi = q.sparkline_range(now)
    # the first day boundary after now - 14 d, up to and including now's day
    assert (q.iso(lo), q.iso(hi)) == ("2025-06-02T00:00:00Z", "2025-06-16T00:00:00Z")
    days = list(range(lo, hi, q.DAY))
    series = dict.fromkeys(days, 0) | {days[-1]: 3}
    o = {"sessions": 10, "users": 4, "users_crashed": 1, "crash_free": 90.0, "crash_free_users": 75.0}
    base = {
        "page": [(1, "a@1")],
        "releases": {(1, "a@1"): {**o, "adoption": 50.0, "sessions_adoption": 25.0, "series": series}},
    }
    good = q.check_releases_page(_page_body([0] * 13 + [3], lo), base)
    assert good.equal and good.compared == 6 + 14
    assert not q.check_releases_page(_page_body([0] * 12 + [1, 2], lo), base).equal
    shifted = q.check_releases_page(_page_body([0] * 13 + [3], lo + q.DAY), base)
    assert [p[0][1] for p in shifted.problems] == ["sparkline buckets"]


def test_the_status_check_bounds_healthy_and_errored_by_the_error_set():
    ref = {
        "totals": {"healthy": 9000, "errored": 700, "crashed": 200, "abnormal": 50, "unhandled": 50},
        "errored_set": 2000,
    }

    def body(healthy: int, errored: int, crashed: int = 200) -> dict:
        counts = {"healthy": healthy, "errored": errored, "crashed": crashed, "abnormal": 50, "unhandled": 50}
        return {
            "groups": [
                {"by": {"session.status": k}, "totals": {"sum(session)": v}} for k, v in counts.items()
            ]
        }

    # an error set of 2,000 estimated 30 high: healthy 30 lower, errored 30 higher
    assert q.check_sessions_by_status(body(8970, 730), ref, TOL).equal
    assert not q.check_sessions_by_status(body(8970, 730), ref, EXACT).equal
    assert not q.check_sessions_by_status(body(9000, 700, crashed=201), ref, TOL).equal


def test_store_size_per_million_sessions(tmp_path):
    # 15 MiB for 1 million sessions is 15; 7.5 MiB for 500,000 is 15 too
    assert per_million(15 * 2**20, 1_000_000) == 15.0
    assert per_million(15 * 2**20 // 2, 500_000) == 15.0
    assert per_million(123, 0) == 0.0
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 1000,)] * 2000)
    conn.commit()
    conn.execute("DELETE FROM t WHERE rowid > 1000")
    conn.commit()
    conn.close()
    before = path.stat().st_size
    sizes = sqlite_sizes(path, tmp_path)
    # the vacuumed copy drops the deleted half (about 1 MB of 2), and is removed afterwards
    assert sizes["bytes"] < before * 0.6
    assert sizes["tables"]["t"] >= 1000 * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]
    assert path.stat().st_size == before


def _result(peer: dict) -> dict:
    statements = {name: {"constant": True} for name in bench_run.QUERY_NAMES}
    return {
        "ingest": {"sessions": {"ratio_vs_bare": 0.6}},
        "import": {"session_updates_per_s": 49_999.0},
        "statements": statements,
        "store": {"mib_per_million_sessions": 15.0},
        "peer": {"clickhouse": peer},
    }


def test_targets_without_the_peer_are_not_measured_and_the_others_judged():
    targets = bench_run.evaluate_targets(_result({"skipped": "chdb is not installed"}))
    assert targets.keys() == bench_run.TARGETS.keys()
    assert targets["sessions_90d_vs_clickhouse_raw"] == {
        "what": bench_run.TARGETS["sessions_90d_vs_clickhouse_raw"][0],
        "value": None,
        "target": "<= 0.25",
        "pass": None,
    }
    assert targets["answers_equal_clickhouse"]["pass"] is None
    assert targets["store_mib_per_million_sessions"]["pass"] is True  # 15 <= 15
    assert targets["bulk_import_updates_per_s"]["pass"] is False  # 49,999 < 50,000
    assert targets["ingest_vs_bare"]["pass"] is True
    assert targets["statements_flat"]["pass"] is True


def test_targets_with_the_peer_use_the_http_ratios_and_the_agreement():
    def question(raw: float, fastest: float, rollup: float = 1.0, same: bool = True) -> dict:
        return {
            "clickhouse_raw": {"http_over_clickhouse_p50": raw},
            "clickhouse_rollup": {"http_over_clickhouse_p50": rollup},
            "http_over_fastest_clickhouse_p50": fastest,
            "http_vs_clickhouse": {"same_numbers": same},
        }

    peer = {
        "sessions_90d_by_release": question(0.25, 0.6, rollup=0.6),
        "releases_page": question(0.5, 1.0),
        "release_details": question(0.5, 1.0),  # not ahead: equal is not enough
        "sessions_24h_by_status": question(0.2, 0.3, same=False),
    }
    targets = bench_run.evaluate_targets(_result(peer))
    verdicts = {k: (v["value"], v["pass"]) for k, v in targets.items()}
    assert verdicts["sessions_90d_vs_clickhouse_raw"] == (0.25, True)
    assert verdicts["sessions_90d_vs_clickhouse_rollup"] == (0.6, False)
    assert verdicts["releases_page_vs_clickhouse"] == (1.0, True)
    assert verdicts["release_details_vs_clickhouse"] == (1.0, False)
    assert verdicts["sessions_24h_vs_clickhouse"] == (0.3, True)
    assert verdicts["answers_equal_clickhouse"] == (0.0, False)
