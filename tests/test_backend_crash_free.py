"""Crash-free breakdown (release-health.md 5.6) and current / previous crash-free rates
(5.14). Percentages are `(1 − crashed / total) * 100`, computed in that order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resolvers.crash_free import (
    CrashFreeRates,
    crash_free_breakdown,
    current_and_previous_crash_free_rates,
)
from resolvers.errors import InvalidQuery
from tests.backend_support import API, SHOP, WEB, dt, memory_backend, memory_store, session, sid, ts

NOW = dt("2021-01-14T12:27:28.303Z")


def _summary(entries):
    return [
        (e.date, e.total_sessions, e.total_users, e.crash_free_sessions, e.crash_free_users) for e in entries
    ]


# -- 5.6 get_crash_free_breakdown ---------------------------------------------------------


async def test_breakdown_four_days_back():
    # start = now − 4 d = 2021-01-10T12:27:28.303. Checkpoints: +1 d and +2 d are past;
    # +7 d is in the future and 5 days after +2 d, so a final entry dated now follows.
    b = memory_store()
    start = NOW - timedelta(days=4)
    await b.write(
        # bucket 01-10 12:00 = floor(start): counted in every entry although before start
        session(WEB, "r", ts("2021-01-10T12:05:00Z"), user="u1"),
        # bucket 01-11 12:00 < ceil(01-11T12:27:28) = 13:00: counted from the first entry
        session(WEB, "r", ts("2021-01-11T12:50:00Z"), user="u2", status="crashed", sid=sid(2)),
        # bucket 01-12 13:00 = ceil(+2 d): only in the `now` entry
        session(WEB, "r", ts("2021-01-12T13:10:00Z"), user="u1", status="crashed", sid=sid(3)),
        # bucket 01-14 12:00 < ceil(now) = 13:00: in the `now` entry although after now
        session(WEB, "r", ts("2021-01-14T12:40:00Z"), user="u3"),
        session(WEB, "other", ts("2021-01-11T00:00:00Z"), status="crashed", sid=sid(9)),
    )
    found = await crash_free_breakdown(b.store, [(WEB, "r")], start=start, now=NOW)
    assert _summary(found[(WEB, "r")]) == [
        # 2 sessions, 1 crashed: (1 − 1/2) * 100; users u1, u2 with u2 crashed: the same
        (start + timedelta(days=1), 2, 2, 50.0, 50.0),
        (start + timedelta(days=2), 2, 2, 50.0, 50.0),
        # 4 sessions, 2 crashed: 50.0; users u1, u2, u3 with u1 and u2 crashed:
        # (1 − 2/3) * 100 = 33.333333333333336
        (NOW, 4, 3, 50.0, 33.333333333333336),
    ]


async def test_breakdown_twelve_hours_back_is_one_now_entry():
    # start = now − 12 h: start + 1 d is already in the future and there is no previous
    # checkpoint, so the only entry is dated now and covers [00:00, 13:00) on 01-14.
    b = memory_store()
    start = NOW - timedelta(hours=12)  # 2021-01-14T00:27:28.303, floored to 00:00
    await b.write(
        session(WEB, "r", ts("2021-01-14T00:10:00Z"), user="a"),
        session(WEB, "r", ts("2021-01-14T05:00:00Z"), user="b"),
        session(WEB, "r", ts("2021-01-14T11:00:00Z"), user="c", status="crashed", sid=sid(1)),
        session(WEB, "r", ts("2021-01-13T23:59:00Z"), user="d"),  # before floor(start)
    )
    found = await crash_free_breakdown(b.store, [(WEB, "r")], start=start, now=NOW)
    # 3 sessions, 1 crashed: (1 − 1/3) * 100 = 66.66666666666667, users the same.
    assert _summary(found[(WEB, "r")]) == [(NOW, 3, 3, 66.66666666666667, 66.66666666666667)]


async def test_breakdown_one_and_a_half_days_quirk():
    # start = now − 1.5 d: +1 d is past; +2 d is in the future but only one day after +1 d,
    # so no `now` entry follows and the most recent data never appears.
    b = memory_store()
    start = NOW - timedelta(days=1.5)  # 2021-01-13T00:27:28.303
    await b.write(
        session(WEB, "r", ts("2021-01-13T01:00:00Z")),
        session(WEB, "r", ts("2021-01-14T12:00:00Z"), status="crashed", sid=sid(1)),
    )
    found = await crash_free_breakdown(b.store, [(WEB, "r")], start=start, now=NOW)
    # [01-13 00:00, ceil(01-14T00:27:28) = 01:00): the crash at 12:00 is not included.
    assert _summary(found[(WEB, "r")]) == [(start + timedelta(days=1), 1, 0, 100.0, None)]


async def test_breakdown_without_data_and_with_environments():
    b = memory_store()
    start = NOW - timedelta(days=3)  # +1 d, +2 d past; +7 d future, 5 d after +2 d -> now
    await b.write(
        session(WEB, "r", ts("2021-01-12T00:00:00Z"), env="staging", user="s"),
        session(
            WEB, "r", ts("2021-01-12T00:00:00Z"), env="production", user="p", status="crashed", sid=sid(1)
        ),
    )
    found = await crash_free_breakdown(
        b.store, [(WEB, "r"), (WEB, "unknown")], start=start, now=NOW, environments=["staging"]
    )
    dates = [start + timedelta(days=1), start + timedelta(days=2), NOW]
    # The staging session (bucket 01-12 00:00) lies in [01-11 12:00, 01-12 13:00) and so in
    # every entry; the crashed production session is filtered out: 1 of 1 crash-free.
    assert _summary(found[(WEB, "r")]) == [(d, 1, 1, 100.0, 100.0) for d in dates]
    # Totals 0 give crash-free null, never 0 or an error.
    assert _summary(found[(WEB, "unknown")]) == [(d, 0, 0, None, None) for d in dates]


async def test_breakdown_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        session(WEB, "r", ts("2021-01-14T00:10:00Z"), user="a"),
        session(WEB, "r", ts("2021-01-14T05:00:00Z"), user="b"),
        session(WEB, "r", ts("2021-01-14T11:00:00Z"), user="c", status="crashed", sid=sid(1)),
    )
    q = """{ release(projectId: "1", version: "r") {
        crashFreeBreakdown(start: "2021-01-14T00:27:28.303Z", now: "2021-01-14T12:27:28.303Z") {
          date totalSessions totalUsers crashFreeSessions crashFreeUsers } } }"""
    data = await b.data(q)
    assert data["release"]["crashFreeBreakdown"] == [
        {
            "date": "2021-01-14T12:27:28.303000Z",
            "totalSessions": 3,
            "totalUsers": 3,
            "crashFreeSessions": 66.66666666666667,
            "crashFreeUsers": 66.66666666666667,
        }
    ]


# -- 5.14 get_current_and_previous_crash_free_rates -----------------------------------------

CURRENT = (ts("2021-01-14T06:15:23Z"), ts("2021-01-14T12:15:23Z"))
PREVIOUS = (ts("2021-01-13T06:15:23Z"), ts("2021-01-13T12:15:23Z"))


async def _rates(b, projects, rollup=3600, org_id=None, orgs=None):
    return await current_and_previous_crash_free_rates(
        b.store,
        orgs or dict.fromkeys(projects, b.acme),
        projects,
        current_start=CURRENT[0],
        current_end=CURRENT[1],
        previous_start=PREVIOUS[0],
        previous_end=PREVIOUS[1],
        rollup=rollup,
        org_id=org_id,
    )


async def test_current_and_previous_rates_example():
    # Windows end at 12:15:23; with rollup 3600 they count buckets up to 13:00.
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T06:05:00Z")),  # bucket 06:00 = floor(06:15:23)
        session(WEB, "r", ts("2021-01-14T12:40:00Z")),  # bucket 12:00 < 13:00
        session(WEB, "q", ts("2021-01-14T12:59:59Z"), status="crashed", sid=sid(1)),
        session(WEB, "r", ts("2021-01-14T13:00:00Z"), status="crashed", sid=sid(2)),  # outside
        session(WEB, "r", ts("2021-01-14T05:59:59Z"), status="crashed", sid=sid(3)),  # outside
        session(API, "r", ts("2021-01-13T09:00:00Z")),
        session(API, "r", ts("2021-01-13T10:00:00Z")),
    )
    rates = await _rates(b, [WEB, API, 99])
    assert rates == {
        # 3 started, 1 crashed: (1 − 1/3) * 100
        WEB: CrashFreeRates(current=66.66666666666667, previous=None),
        # no sessions in the current window; 2 of 2 crash-free in the previous one
        API: CrashFreeRates(current=None, previous=100.0),
        99: CrashFreeRates(current=None, previous=None),  # unknown project: every value null
    }
    # Daily rollup: the current window widens to [01-14 00:00, 01-15 00:00), 5 sessions,
    # 3 crashed: (1 − 3/5) * 100 = 40.0
    daily = await _rates(b, [WEB], rollup=86400)
    assert daily[WEB].current == (1 - 3 / 5) * 100 == 40.0


async def test_current_rates_are_clamped():
    # 1 started session and 2 crash updates without init (crashed > started): upstream would
    # report (1 − 2/1) * 100 = −100; the rate is clamped to 0 before multiplying.
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T08:00:00Z")),
        session(WEB, "r", ts("2021-01-14T08:00:00Z"), status="crashed", sid=sid(1), init=False),
        session(WEB, "r", ts("2021-01-14T08:00:00Z"), status="crashed", sid=sid(2), init=False),
    )
    assert (await _rates(b, [WEB]))[WEB].current == 0.0


async def test_current_rates_organization_checks():
    b = memory_store()
    with pytest.raises(InvalidQuery) as exc:
        await _rates(b, [WEB], org_id=b.globex)
    assert exc.value.message == "Expected projects to be from the specified organization"
    with pytest.raises(InvalidQuery) as exc:
        await _rates(b, [WEB, SHOP], orgs={WEB: b.acme, SHOP: b.globex})
    assert exc.value.message == "Expected projects to be from the same organization"
    assert (await _rates(b, [WEB], org_id=b.acme))[WEB] == CrashFreeRates(None, None)


async def test_crash_free_rates_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        session(WEB, "r", ts("2021-01-14T06:05:00Z")),
        session(WEB, "r", ts("2021-01-14T12:40:00Z")),
        session(WEB, "r", ts("2021-01-14T12:59:59Z"), status="crashed", sid=sid(1)),
    )
    q = """query($rollup: Int!) { project(id: "1") { crashFreeRates(
        current: {start: "2021-01-14T06:15:23Z", end: "2021-01-14T12:15:23Z"},
        previous: {start: "2021-01-13T06:15:23Z", end: "2021-01-13T12:15:23Z"},
        rollup: $rollup) { current previous } } }"""
    data = await b.data(q, rollup=3600)
    assert data["project"]["crashFreeRates"] == {"current": 66.66666666666667, "previous": None}
    body = await b.gql(q, rollup=3610)
    assert body["errors"][0]["message"] == "The interval should divide one day without a remainder."
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
