"""The ClickHouse peer's and the distinct-count measurement's pure helpers (issue 8).

chdb and datasketches are optional benchmark dependencies (`.[bench]`, not in `dev`): the
tests that need them skip when they are absent; everything else runs without them.
"""

from __future__ import annotations

import asyncio

import pytest

from bench import clickhouse_peer as cp
from bench import distinct
from bench import peer_phase as pp
from bench.agreement import Tolerance
from bench.dataset import ensure_dataset
from storage.types import USER_CRASHED, USER_SEEN, SessionIncrement

USER = "7a6f1e0c-2f7b-4c1e-9a55-0d3c2b1a0f9e"
SID = "0b4c3a2d-1e5f-4a6b-8c7d-9e0f1a2b3c4d"


def test_raw_row_converts_an_increment_with_nil_uuids_and_floored_start():
    inc = SessionIncrement(3, "web@1.0.0", None, 86399.9, 1, 0, 0, 0, 0, None, None, 0, None)
    row = cp.raw_row(inc)
    assert row == (3, "web@1.0.0", "", 86399, 1, 0, 0, 0, 0, cp.NIL_UUID, cp.NIL_UUID, 0, None)
    assert len(row) == len(cp.RAW_COLUMNS)
    crashed = SessionIncrement(
        3, "web@1.0.0", "prod", 10.0, 0, 1, 0, 0, 0, SID, USER, USER_SEEN | USER_CRASHED, 2.5
    )
    assert cp.raw_row(crashed)[9:] == (SID, USER, USER_SEEN | USER_CRASHED, 2.5)


def test_tsv_lines_escape_text_and_write_null():
    lines = list(cp.tsv_lines([(1, "a\tb\\c\nd", None, 0.5)]))
    assert lines == ["1\ta\\tb\\\\c\\nd\t\\N\t0.5\n"]


def test_sql_literals_escape_quotes_and_refuse_other_types():
    assert cp.sql_literal("it's") == "'it\\'s'"
    assert cp.sql_list([1, 2]) == "1, 2"
    with pytest.raises(TypeError):
        cp.sql_literal(1.5)
    with pytest.raises(TypeError):
        cp.sql_literal(True)
    with pytest.raises(ValueError):
        cp.sql_list([])


def test_sources_read_raw_rows_or_the_rollup_of_the_granularity():
    raw, rollup = cp.Source("raw", 86400), cp.Source("rollup", 3600)
    raw_sql = cp.sessions_by_release_sql(raw, [1, 2], 100, 200)
    assert raw_sql[0].startswith(
        "SELECT release, intDiv(started, 86400) * 86400 AS b, sum(quantity), uniqExactIf("
    )
    assert " FROM sessions_raw WHERE started >= 100 AND started < 200 AND project_id IN (1, 2)" in raw_sql[0]
    roll_sql = cp.sessions_by_status_sql(rollup, [1], 0, 3600)
    assert "FROM sessions_rollup WHERE granularity = 3600 AND bucket >= 0 AND bucket < 3600" in roll_sql[0]
    assert "uniqExactMerge(errored_set)" in roll_sql[1]
    page = cp.page_sql(raw, [(1, "web@1.0.0"), (2, "ios@1.0.0")], 0, 10)
    assert "(project_id, release) IN ((1, 'web@1.0.0'), (2, 'ios@1.0.0'))" in page[0]
    assert "project_id IN (1, 2)" in page[2]
    assert "release = 'web@1.0.0'" in cp.release_details_sql(rollup, (1, "web@1.0.0"), 0, 10)[0]
    assert cp.rollup_insert(86400).startswith("INSERT INTO sessions_rollup SELECT 86400,")
    with pytest.raises(ValueError):
        cp.Source("cube", 60)


def test_choose_page_ranks_like_the_baseline():
    ranked = [(1, "a", 5, 0), (1, "b", 9, 1), (2, "c", 0, 2), (2, "d", 0, 0), (2, "e", 5, 0)]
    page, project_sessions = cp.choose_page(ranked, 3)
    assert page == [(1, "b"), (1, "a"), (2, "e")]
    assert project_sessions == {1: 14, 2: 5}
    assert cp.choose_page(ranked, 10)[0][-1] == (2, "c")  # crashes without starts still rank


def test_compare_names_every_difference_and_tolerates_float_noise():
    want = {"r": {"users": 3, "crash_free": 99.5, "series": {1: 2}}}
    same = cp.compare("q", {"r": {"users": 3, "crash_free": 99.5 + 1e-12, "series": {1: 2}}}, want)
    assert same.equal and same.compared == 3
    got = {"r": {"users": 4, "crash_free": 99.4, "series": {}}}
    assert cp.compare("q", got, want).problems == [
        ("q.r.crash_free", 99.4, 99.5),
        ("q.r.series.1", None, 2),
        ("q.r.users", 4, 3),
    ]


def test_compare_allows_the_sketch_error_only_on_distinct_counts_above_the_exact_limit():
    tol = Tolerance(exact_up_to=100, relative=0.02)
    want = {
        "a": {"users": 1000, "users_crashed": 50, "sessions": 5000, "crash_free_users": 95.0},
        "b": {"users": 90, "users_crashed": 0, "sessions": 200, "crash_free_users": 100.0},
        "users_series": {"1": 500, "2": 80},
    }
    # 1,015 users is 1.5 % off (inside 2 %): accepted; the crash-free rate moved with it
    # (100 - 100 * 50 / 1015 = 95.074); 90 users is below the limit: must be exact.
    got = {
        "a": {"users": 1015, "users_crashed": 50, "sessions": 5000, "crash_free_users": 95.074},
        "b": {"users": 90, "users_crashed": 0, "sessions": 200, "crash_free_users": 100.0},
        "users_series": {"1": 509, "2": 80},
    }
    ok = cp.compare("q", got, want, tol)
    assert ok.equal, ok.problems
    assert ok.estimated == 2 and ok.worst_relative_error == pytest.approx(0.018)  # 509 / 500
    # 1,025 users is 2.5 % off; a counter may never be off; 81 is below the limit.
    got["a"]["users"], got["a"]["sessions"], got["users_series"]["2"] = 1025, 5001, 81
    bad = cp.compare("q", got, want, tol)
    assert bad.problems == [
        ("q.a.sessions", 5001, 5000),
        ("q.a.users", 1025, 1000),
        ("q.users_series.2", 81, 80),
    ]
    # the same answer is wrong for an exact store
    assert not cp.compare("q", {"users_series": {"1": 509}}, {"users_series": {"1": 500}}).equal


def test_comparable_drops_the_estimated_duration_quantiles():
    answer = {
        "series": {5: {"total": 1, "crashed": 0, "errored": 0, "healthy": 1, "p50": 3.0}},
        "totals": {"total": 1},
    }
    assert cp.comparable("release_details", answer)["series"] == {
        5: {"total": 1, "crashed": 0, "errored": 0, "healthy": 1}
    }


def test_regenerated_increments_are_the_loaded_dataset(tmp_path):
    m = asyncio.run(ensure_dataset("sqlite", "small", 1, tmp_path))
    incs = list(cp.dataset_increments(m))
    assert len(incs) == m.updates
    assert sum(i.started_count for i in incs) == m.sessions
    assert len({i.user for i in incs if i.user}) == m.users


def test_latest_day_histogram_sums_to_exact_users_in_windows_ending_now():
    d = 86400
    days = distinct.UserDays().add_all(
        [
            SessionIncrement(1, "r1", "production", 0 * d + 5, 1, user="u1", user_tags=USER_SEEN),
            SessionIncrement(1, "r1", "staging", 2 * d + 5, 1, user="u1", user_tags=USER_SEEN),
            SessionIncrement(1, "r1", "production", 1 * d + 5, 1, user="u2", user_tags=USER_SEEN),
            SessionIncrement(1, "r1", "production", 2 * d + 9, 1, user="u3", user_tags=USER_SEEN),
            SessionIncrement(1, "r2", "production", 0 * d + 1, 1, user="u1", user_tags=USER_SEEN),
            SessionIncrement(1, "r2", "production", 0 * d + 1, 1),  # no user: not counted
        ]
    )
    hist = distinct.latest_day_histogram(days)
    assert hist == {"r1": {2 * d: 2, 1 * d: 1}, "r2": {0: 1}}
    assert distinct.daily_exact(days) == {("r1", 0): 1, ("r1", d): 1, ("r1", 2 * d): 2, ("r2", 0): 1}
    assert distinct.users_in_window(hist, 2 * d) == {"r1": 2}
    assert distinct.users_in_window(hist, d) == {"r1": 3}
    assert distinct.users_in_window(hist, 0) == {"r1": 3, "r2": 1}
    assert distinct.window_exact(days, d, 3 * d) == {"r1": 3}
    assert distinct.window_exact(days, 0, d) == {"r1": 1, "r2": 1}


def test_relative_errors_worst_and_mean():
    assert distinct.relative_errors({"a": 110.0, "b": 100.0}, {"a": 100, "b": 100, "z": 0}) == {
        "worst": 0.1,
        "mean": 0.05,
    }
    assert distinct.relative_errors({}, {}) == {"worst": None, "mean": None}


def test_peer_phase_skips_with_a_reason_and_reports_http_ratios():
    assert "chdb is not installed" in (pp.skip_reason("sqlite", False) or "")
    assert "SQLite" in (pp.skip_reason("postgres", True) or "")
    assert pp.skip_reason("sqlite", True) is None
    assert pp.render_peer({"skipped": "why"}) == ["ClickHouse peer: skipped (why)."]
    peer = {
        "releases_page": {
            "relhealth_sql": {"p50_ms": 5.0},
            "clickhouse_raw": {"p50_ms": 20.0, "same_numbers": True},
            "clickhouse_rollup": {"p50_ms": 10.0, "same_numbers": False},
        },
        "load": {
            "raw_rows": 10,
            "rollup_rows": 2,
            "load_seconds": 0.1,
            "mib_per_million_sessions": {"raw": 7.5},
        },
        "engine": "chdb",
    }
    pp.with_http_ratios(peer, {"releases_page": {"http": {"p50_ms": 40.0}}})
    assert peer["releases_page"]["clickhouse_raw"]["http_over_clickhouse_p50"] == 2.0
    assert peer["releases_page"]["clickhouse_rollup"]["http_over_clickhouse_p50"] == 4.0
    # the target compares with the faster ClickHouse source (rollup, 10 ms)
    assert peer["releases_page"]["http_over_fastest_clickhouse_p50"] == 4.0
    row = pp.render_peer(peer)[-1]
    assert row == "| releases_page | 40.0 | 5.0 | 20.0 | 10.0 | 2.0 | 4.0 | - | yes / **no** | 0.00 % |"


def test_clickhouse_peer_gives_relhealths_numbers(tmp_path):
    pytest.importorskip("chdb")
    m = asyncio.run(ensure_dataset("sqlite", "small", 1, tmp_path))
    answers: dict = {}
    result = cp.peer_phase(m, iterations=1, seconds=1.0, log=lambda s: None, answers=answers)
    assert result["load"]["raw_rows"] == m.updates
    assert set(answers) == set(pp.QUESTIONS)
    for name in pp.QUESTIONS:
        assert result[name]["relhealth_sql"]["iterations"] >= 1
        for kind in cp.SOURCES:
            entry = result[name][f"clickhouse_{kind}"]
            # the small dataset stays below the sketches' exact limit: equal, not estimated
            assert entry["same_numbers"] and entry["estimated"] == 0, (name, kind, entry["differences"])


def test_distinct_alternatives_on_the_small_dataset(tmp_path):
    pytest.importorskip("datasketches")
    m = asyncio.run(ensure_dataset("sqlite", "small", 1, tmp_path))
    result = distinct.run(m, 1, lambda s: None)
    for n in distinct.WINDOW_DAYS:
        # 4,000 users: below the sketches' exact limit, so the store is exact on v2 too
        assert result["store_read"][f"{n}d"]["equal_to_exact"]
        assert result["latest_day_histogram"][f"{n}d"]["equal_to_exact"]
        assert result["hll_lg14"][f"{n}d"]["total_error"]["worst"] < 0.05
