"""Release stats (release-health.md 5.11): adjusted range, series and totals by status."""

from __future__ import annotations

import pytest

from resolvers.errors import InvalidQuery
from resolvers.release_stats import StatCounts, release_stats
from tests.backend_support import WEB, memory_backend, memory_store, session, sid, ts

START = ts("2021-01-10T12:27:28Z")
END = ts("2021-01-14T12:27:28Z")
# start' = next day boundary strictly after START = 2021-01-11T00:00Z; end'' = 12:27:30;
# aligned on 1 d: four buckets 2021-01-11 … 2021-01-14.
DAYS = [1610323200, 1610409600, 1610496000, 1610582400]


async def _write_week(b):
    await b.write(
        session(WEB, "r", ts("2021-01-10T20:00:00Z"), user="u0"),  # before start': ignored
        session(WEB, "r", ts("2021-01-11T05:00:00Z"), user="u1", status="exited", duration=10),
        session(WEB, "r", ts("2021-01-11T06:00:00Z"), user="u2", status="exited", duration=20),
        session(WEB, "r", ts("2021-01-12T10:00:00Z"), user="u1", status="crashed", sid=sid(1)),
        session(WEB, "r", ts("2021-01-12T11:00:00Z"), user="u3", status="errored", sid=sid(2)),
        session(WEB, "r", ts("2021-01-13T01:00:00Z"), user="u4", status="abnormal", sid=sid(3)),
        session(WEB, "r", ts("2021-01-13T02:00:00Z"), user="u4", status="unhandled", sid=sid(4)),
        # after END but inside the last aligned bucket [01-14, 01-15): counted
        session(WEB, "r", ts("2021-01-14T23:00:00Z"), user="u5"),
        session(WEB, "r", ts("2021-01-15T00:30:00Z"), user="u6"),  # outside
        session(WEB, "other", ts("2021-01-12T00:00:00Z"), user="x", status="crashed", sid=sid(9)),
    )


def _counts(entry):
    c = entry.counts
    return (c.total, c.healthy, c.errored, c.crashed, c.abnormal, c.unhandled)


async def test_release_stats_sessions_example():
    b = memory_store()
    await _write_week(b)
    found = await release_stats(
        b.store, [(WEB, "r"), (WEB, "unknown")], stat="sessions", rollup=86400, start=START, end=END
    )
    stats = found[(WEB, "r")]
    assert [e.timestamp for e in stats.series] == DAYS
    # (sessions, healthy, errored, crashed, abnormal, unhandled) per day (section 3.2):
    # 01-11: 2 started, no errors -> healthy 2
    # 01-12: 2 started, error set {1, 2}, 1 crashed -> errored 2 − 1 = 1, healthy 2 − 2 = 0
    # 01-13: 2 started, error set {3, 4}, abnormal 1, unhandled 1 -> errored max(0, 2 − 2) = 0
    # 01-14: 1 started -> healthy 1
    assert [_counts(e) for e in stats.series] == [
        (2, 2, 0, 0, 0, 0),
        (2, 0, 1, 1, 0, 0),
        (2, 0, 0, 0, 1, 1),
        (1, 1, 0, 0, 0, 0),
    ]
    # Durations (seconds) only on 01-11: {10, 20} -> p50 15, p90 19 (sketch within 1 %).
    first = stats.series[0]
    assert first.duration_p50 == pytest.approx(15, rel=0.01)
    assert first.duration_p90 == pytest.approx(19, rel=0.01)
    assert [e.duration_p50 for e in stats.series[1:]] == [None, None, None]
    # Totals over the range: 7 started, errored_all 4, fatal 3 -> errored 1, healthy 3.
    assert stats.totals == StatCounts(7, 3, 1, 1, 1, 1)
    series, totals = stats.as_upstream()
    assert series[0] == [
        1610323200,
        {
            "sessions": 2,
            "sessions_healthy": 2,
            "sessions_errored": 0,
            "sessions_crashed": 0,
            "sessions_abnormal": 0,
            "sessions_unhandled": 0,
            "duration_p50": first.duration_p50,
            "duration_p90": first.duration_p90,
        },
    ]
    assert totals == {
        "sessions": 7,
        "sessions_healthy": 3,
        "sessions_errored": 1,
        "sessions_crashed": 1,
        "sessions_abnormal": 1,
        "sessions_unhandled": 1,
    }
    # An unknown release: the same four buckets with zeros and null durations.
    unknown = found[(WEB, "unknown")]
    assert [e.timestamp for e in unknown.series] == DAYS
    assert all(_counts(e) == (0, 0, 0, 0, 0, 0) for e in unknown.series)
    assert all(e.duration_p50 is None and e.duration_p90 is None for e in unknown.series)
    assert unknown.totals == StatCounts()


async def test_release_stats_users_are_unions_over_the_range():
    b = memory_store()
    await _write_week(b)
    found = await release_stats(b.store, [(WEB, "r")], stat="users", rollup=86400, start=START, end=END)
    stats = found[(WEB, "r")]
    # 01-11: u1, u2 healthy; 01-12: u1 crashed, u3 errored -> errored 2 − 1 = 1, healthy 0;
    # 01-13: u4 abnormal and unhandled -> errored max(0, 1 − 2) = 0; 01-14: u5 healthy.
    assert [_counts(e) for e in stats.series] == [
        (2, 2, 0, 0, 0, 0),
        (2, 0, 1, 1, 0, 0),
        (1, 0, 0, 0, 1, 1),
        (1, 1, 0, 0, 0, 0),
    ]
    # Totals: users u1…u5 = 5; errored u1, u3, u4 = 3 -> healthy 5 − 3 = 2 (u1 was healthy on
    # 01-11 but crashed later, so the healthy total is not the series' sum 3);
    # errored max(0, 3 − (1 + 1 + 1)) = 0.
    assert stats.totals == StatCounts(5, 2, 0, 1, 1, 1)
    assert stats.as_upstream()[1]["users_healthy"] == 2


async def test_release_stats_range_adjustment_edges():
    b = memory_store()
    await _write_week(b)
    # A start on a boundary moves one rollup later; an end on a 10 s multiple moves 10 s
    # later: [01-12, 01-13T00:00:10) aligned -> buckets 01-12 and 01-13.
    found = await release_stats(
        b.store,
        [(WEB, "r")],
        stat="sessions",
        rollup=86400,
        start=ts("2021-01-11T00:00:00Z"),
        end=ts("2021-01-13T00:00:00Z"),
    )
    stats = found[(WEB, "r")]
    assert [e.timestamp for e in stats.series] == DAYS[1:3]
    assert stats.totals.total == 4
    # Hourly: start 01-12T09:30 -> 10:00; end 11:00:00 -> 11:00:10 -> buckets 10:00 and 11:00.
    hourly = await release_stats(
        b.store,
        [(WEB, "r")],
        stat="sessions",
        rollup=3600,
        start=ts("2021-01-12T09:30:00Z"),
        end=ts("2021-01-12T11:00:00Z"),
    )
    series = hourly[(WEB, "r")].series
    assert [(e.timestamp, e.counts.total, e.counts.crashed, e.counts.errored) for e in series] == [
        (int(ts("2021-01-12T10:00:00Z")), 1, 1, 0),
        (int(ts("2021-01-12T11:00:00Z")), 1, 0, 1),
    ]


async def test_release_stats_validation():
    b = memory_store()
    with pytest.raises(InvalidQuery, match="Invalid stat"):
        await release_stats(b.store, [(WEB, "r")], stat="crashes", rollup=3600, start=START, end=END)
    with pytest.raises(InvalidQuery) as exc:
        await release_stats(b.store, [(WEB, "r")], stat="users", rollup=3610, start=START, end=END)
    assert exc.value.message == "The interval should divide one day without a remainder."
    with pytest.raises(InvalidQuery) as exc:
        await release_stats(b.store, [(WEB, "r")], stat="users", rollup=60, start=START - 86400, end=END)
    assert exc.value.message.startswith("Your interval and date range would create too many results.")


async def test_release_stats_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await _write_week(b)
    q = """query($interval: String!) { release(projectId: "1", version: "r") {
        stats(stat: SESSIONS, interval: $interval,
              start: "2021-01-10T12:27:28Z", end: "2021-01-14T12:27:28Z") {
          stat intervals total healthy errored crashed abnormal unhandled durationP50 durationP90
          totals { total healthy errored crashed abnormal unhandled } } } }"""
    stats = (await b.data(q, interval="1d"))["release"]["stats"]
    assert stats["stat"] == "SESSIONS"
    assert stats["intervals"] == [
        "2021-01-11T00:00:00Z",
        "2021-01-12T00:00:00Z",
        "2021-01-13T00:00:00Z",
        "2021-01-14T00:00:00Z",
    ]
    assert stats["total"] == [2, 2, 2, 1]
    assert stats["healthy"] == [2, 0, 0, 1]
    assert stats["errored"] == [0, 1, 0, 0]
    assert stats["crashed"] == [0, 1, 0, 0]
    assert stats["abnormal"] == [0, 0, 1, 0]
    assert stats["unhandled"] == [0, 0, 1, 0]
    assert stats["durationP50"][1:] == [None, None, None]
    assert stats["durationP50"][0] == pytest.approx(15, rel=0.01)
    assert stats["totals"] == {
        "total": 7,
        "healthy": 3,
        "errored": 1,
        "crashed": 1,
        "abnormal": 1,
        "unhandled": 1,
    }
    ten_seconds = "The interval has to be a multiple of the minimum interval of ten seconds."
    for bad, message in (
        ("59m", "The interval should divide one day without a remainder."),
        ("bogus", "Invalid interval"),
        ("15s", ten_seconds),
    ):
        body = await b.gql(q, interval=bad)
        assert body["errors"][0]["message"] == message
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
