"""Retention (release-health.md 4.4): settings, the cleanup (`storage.retention`, the periodic
task, `relhealth cleanup`), queries beyond retention, and late session updates."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from resolvers.granularity import RetentionExceeded, choose_granularity, retained_granularity
from resolvers.options import QueryOptions
from server.clock import FixedClock
from server.settings import Settings
from storage.retention import delete_expired
from storage.store import SessionStore
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    AggregateQuery,
    GroupKey,
    OutcomeIncrement,
    Quantity,
    SessionIncrement,
    WriteBatch,
)

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
URL = "/api/0/organizations/acme/sessions/"
#: minute 30 d, hour 100 d, day 200 d.
RETENTION = {"minute_retention_days": 30, "hour_retention_days": 100, "day_retention_days": 200}
OPTIONS = QueryOptions(minute_retention=30 * DAY, hour_retention=100 * DAY, day_retention=200 * DAY)
ALL = frozenset(Quantity)
FACTS = ("fact_counter", "fact_sketch")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- settings ------------------------------------------------------------------------------


def test_retention_settings_defaults_environment_and_validation(monkeypatch):
    s = Settings()
    assert (s.minute_retention_days, s.hour_retention_days, s.day_retention_days) == (30, 400, 400)
    assert s.retention_interval_seconds == 3600
    monkeypatch.setenv("RELHEALTH_HOUR_RETENTION_DAYS", "120")
    monkeypatch.setenv("RELHEALTH_DAY_RETENTION_DAYS", "0")
    monkeypatch.setenv("RELHEALTH_RETENTION_INTERVAL_SECONDS", "0")
    s = Settings()
    assert (s.hour_retention_days, s.day_retention_days, s.retention_interval_seconds) == (120, 0, 0)
    Settings(minute_retention_days=0, hour_retention_days=0, day_retention_days=0)  # all forever
    with pytest.raises(ValidationError, match="at least 91"):
        Settings(hour_retention_days=30)
    with pytest.raises(ValidationError, match="must not shrink"):
        Settings(minute_retention_days=500)
    with pytest.raises(ValidationError, match="must not shrink"):
        Settings(hour_retention_days=0, day_retention_days=400)  # hourly forever, daily not
    with pytest.raises(ValidationError):
        Settings(retention_interval_seconds=-1)


async def test_settings_reach_query_options(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url, **RETENTION, retention_interval_seconds=0))
    assert app.services.query_options.retention == {MINUTE: 30 * DAY, HOUR: 100 * DAY, DAY: 200 * DAY}


# -- the granularity rules -----------------------------------------------------------------


def test_choose_granularity_rules():
    now = 1_000 * DAY + 37_000.5
    r = OPTIONS.retention

    def choose(start: int, end: int, interval: int | None = None) -> int:
        return choose_granularity(start, end, interval, now=now, retention=r)

    recent = 990 * DAY
    # Exact and retained: the coarsest exact granularity.
    assert choose(recent, recent + DAY, DAY) == DAY
    assert choose(recent, recent + DAY, HOUR) == HOUR
    assert choose(recent, recent + 3600, 60) == MINUTE
    assert choose(recent + 90, recent + 3600, 90) == MINUTE  # no granularity divides 90 s
    assert choose(recent, recent + DAY) == DAY  # totals
    # Older than the minute retention: sub-hour questions read hourly buckets (4.4).
    old = 950 * DAY
    assert choose(old, old + 3600, 60) == HOUR
    assert choose(old + 90, old + 3600, 90) == HOUR
    assert choose(old, old + DAY, HOUR) == HOUR
    # Older than the hourly retention: only whole days can be answered.
    older = 850 * DAY
    assert choose(older, older + 10 * DAY, DAY) == DAY
    assert choose(older, now - now % DAY + DAY, DAY) == DAY  # partly old, whole days: fine
    hourly = "Hourly data is kept for 100 days; use an interval of 1d for ranges older than that."
    for start, end, interval in [
        (older, older + DAY, HOUR),
        (older, older + DAY, 6 * HOUR),
        (older, older + HOUR, MINUTE),
        (older + HOUR, older + DAY, None),  # totals not on whole days
        (older, int(now) - int(now) % HOUR, HOUR),  # only the start is too old
    ]:
        with pytest.raises(RetentionExceeded) as exc:
            choose(start, end, interval)
        assert exc.value.message == hourly
    # Older than every retention.
    oldest = 700 * DAY
    with pytest.raises(RetentionExceeded) as exc:
        choose(oldest, oldest + DAY, DAY)
    assert exc.value.message == (
        "Session data is kept for 200 days; choose a range that starts within the last 200 days."
    )
    # The boundary: a range starting exactly `retention` before now is retained.
    edge = int(now) - 100 * DAY
    edge -= edge % HOUR
    assert choose(edge + HOUR, edge + 2 * HOUR, HOUR) == HOUR
    with pytest.raises(RetentionExceeded):
        choose(edge, edge + HOUR, HOUR)
    # 0 keeps forever; no `now` or no retention checks nothing.
    forever = {MINUTE: 0, HOUR: 0, DAY: 0}
    assert choose_granularity(0, 3600, 60, now=now, retention=forever) == MINUTE
    assert choose_granularity(0, 3600, 60, now=None, retention=r) == MINUTE
    assert choose_granularity(0, 3600, 60, now=now, retention=None) == MINUTE
    # The minute-only form used by the older backend functions never raises.
    assert retained_granularity(0, 3600, 60, now=now, retention={MINUTE: 30 * DAY, HOUR: 0, DAY: 0}) == HOUR
    assert retained_granularity(0, 3600, 60, now=now, retention={MINUTE: 0, HOUR: 0, DAY: 0}) == MINUTE
    assert retained_granularity(0, 3600, 60, now=now) == MINUTE


# -- the cleanup ---------------------------------------------------------------------------


def _session(started: float, *, user: str, sid: str, project: int = 1) -> SessionIncrement:
    """One crashed session with a user and a duration: a row in every fact table."""
    return SessionIncrement(
        project_id=project,
        release="app@1.0",
        environment="production",
        started=started,
        started_count=1,
        crashed=1,
        error_sid=sid,
        user=user,
        user_tags=USER_SEEN | USER_ERRORED | USER_CRASHED,
        duration=12.5,
    )


#: Ages of the written sessions: kept everywhere; minute gone; minute and hour gone; all gone.
AGES = {
    "fresh": 10 * DAY + 1234,
    "month": 40 * DAY + 1234,
    "season": 150 * DAY + 1234,
    "ancient": 300 * DAY + 1234,
}


async def _store_with_history(make_app, url: str, **settings) -> tuple[object, SessionStore]:
    app = await make_app(Settings(database_url=url, **RETENTION, **settings), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    store: SessionStore = app.services.store
    increments = [
        _session(NOW - age, user=f"{name}-{u}", sid=f"00000000-0000-4000-8000-{i:06d}{u:06d}")
        for i, (name, age) in enumerate(AGES.items())
        for u in range(3)
    ]
    outcomes = [
        OutcomeIncrement(1, "session", "accepted", "", NOW - AGES["fresh"], 3),
        OutcomeIncrement(1, "session", "accepted", "", NOW - AGES["season"], 3),
    ]
    await store.apply([WriteBatch(increments, outcomes)])
    return app, store


async def _rows(store: SessionStore) -> dict[tuple[str, int], int]:
    counts: dict[tuple[str, int], int] = {}
    async with store.engine.connect() as conn:
        for table in FACTS:
            for g, n in await conn.execute(
                text(f"SELECT granularity, COUNT(*) FROM {table} GROUP BY granularity")
            ):
                counts[(table, int(g))] = int(n)
    return counts


async def _outcome_hours(store: SessionStore) -> list[int]:
    return sorted({row[1] for row in await store.outcomes([1])})


async def _started(store: SessionStore, granularity: int, start: float, end: float) -> int:
    lo, hi = int(start) - int(start) % granularity, int(end) - int(end) % granularity + granularity
    result = await store.aggregate(
        AggregateQuery(project_ids=(1,), start=lo, end=hi, granularity=granularity, quantities=ALL)
    )
    agg = result.totals.get(GroupKey())
    return agg.counters.started if agg else 0


async def test_delete_expired_per_granularity_in_batches(make_app, database_url):
    _, store = await _store_with_history(make_app, database_url, retention_interval_seconds=0)
    before = await _rows(store)
    # 4 ages x 3 crashed users in one bucket: counters 1 row per age and granularity;
    # sketches 5 (users, errored users, crashed users, error set, duration bins). Minute
    # rows exist only within the minute retention (30 d): for "fresh" alone.
    assert before[("fact_counter", MINUTE)] == 1 and before[("fact_sketch", MINUTE)] == 5
    assert before[("fact_counter", DAY)] == 4 and before[("fact_sketch", DAY)] == 20
    deleted = await delete_expired(store.engine, now=NOW, retention=OPTIONS.retention, batch_rows=2)
    # Expired: hour 2 ages, day 1 -> 3 bucket rows per age-row (no minute row was old).
    assert deleted == {
        "fact_counter": 3,
        "fact_sketch": 15,
        "ingest_outcome": 1,
    }
    after = await _rows(store)
    for table, per_age in [("fact_counter", 1), ("fact_sketch", 5)]:
        assert after.get((table, MINUTE)) == per_age, table  # fresh
        assert after.get((table, HOUR)) == 2 * per_age, table  # fresh, month
        assert after.get((table, DAY)) == 3 * per_age, table  # fresh, month, season
    # What is left is exactly the retained data, at each granularity.
    for name, age in AGES.items():
        t = NOW - age
        assert await _started(store, MINUTE, t, t) == 3 * (name == "fresh")
        assert await _started(store, HOUR, t, t) == 3 * (name in ("fresh", "month"))
        assert await _started(store, DAY, t, t) == 3 * (name != "ancient")
    hour = int(NOW - AGES["fresh"]) // HOUR * HOUR
    assert await _outcome_hours(store) == [hour]
    # Idempotent; the catalogue of series stays.
    assert set((await delete_expired(store.engine, now=NOW, retention=OPTIONS.retention)).values()) == {0}
    assert len(await store.series([1])) == 1
    # 0 keeps forever.
    forever = {MINUTE: 0, HOUR: 0, DAY: 0}
    assert set((await delete_expired(store.engine, now=NOW + 1000 * DAY, retention=forever)).values()) == {0}


async def test_periodic_cleanup_task(make_app, database_url):
    app, store = await _store_with_history(make_app, database_url, retention_interval_seconds=1)
    deadline = time.monotonic() + 15
    while (await _rows(store)).get(("fact_counter", HOUR)) != 2:
        assert time.monotonic() < deadline, "the periodic cleanup did not run"
        await asyncio.sleep(0.2)
    assert await _started(store, DAY, NOW - AGES["ancient"], NOW - AGES["ancient"]) == 0
    assert await _started(store, DAY, NOW - AGES["season"], NOW - AGES["season"]) == 3
    # Interval 0 disables the task.
    idle = app.services.retention_task()  # type: ignore[attr-defined]
    idle.interval = 0
    idle.start()
    assert idle._task is None


@pytest.mark.slow
async def test_cleanup_command(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url, retention_interval_seconds=0))
    await app.services.accounts.create_project("acme", "web", 1)
    now = time.time()
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    _session(now - 3600, user="a", sid="00000000-0000-4000-8000-000000000001"),
                    _session(now - 150 * DAY, user="b", sid="00000000-0000-4000-8000-000000000002"),
                ]
            )
        ]
    )
    env = {**os.environ, "RELHEALTH_HOUR_RETENTION_DAYS": "100", "RELHEALTH_DAY_RETENTION_DAYS": "100"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "cleanup",
        "--database-url",
        sqlite_url,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    # Hour and day of the old one: it got no minute row, being older than the minute retention.
    assert "deleted 2 fact_counter rows" in out.decode()
    rows = await _rows(app.services.store)
    assert rows[("fact_counter", MINUTE)] == rows[("fact_counter", HOUR)] == 1


# -- queries beyond retention --------------------------------------------------------------


async def _api(make_app, url: str):
    app, store = await _store_with_history(make_app, url, retention_interval_seconds=0)
    await delete_expired(store.engine, now=NOW, retention=OPTIONS.retention)
    token = await app.services.accounts.create_token("acme", ["org:read"])  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}

    async def rest(**params: str):
        query = [("project", "1"), ("field", "sum(session)"), *params.items()]
        return await app.client.get(URL, params=query, headers=headers)  # type: ignore[attr-defined]

    async def gql(query: str, **variables: object):
        r = await app.client.post(  # type: ignore[attr-defined]
            "/graphql/v1", json={"query": query, "variables": variables}, headers=headers
        )
        return r.json()

    return rest, gql


async def test_queries_beyond_retention(make_app, database_url):
    rest, gql = await _api(make_app, database_url)
    month = NOW - AGES["month"]  # minute buckets deleted, hourly kept
    hour = month - month % HOUR
    # Sub-hour interval older than the minute retention: hourly buckets stand in (4.4), so
    # the hour's sessions are all counted, in the sub-bucket holding the hour's start.
    r = await rest(start=iso(hour), end=iso(hour + HOUR), interval="1m")
    assert r.status_code == 200, r.text
    group = r.json()["groups"][0]
    assert group["totals"] == {"sum(session)": 3}
    assert group["series"]["sum(session)"][0] == 3 and sum(group["series"]["sum(session)"]) == 3

    season = NOW - AGES["season"]  # minute and hourly buckets deleted, daily kept
    day = season - season % DAY
    hourly = "Hourly data is kept for 100 days; use an interval of 1d for ranges older than that."
    for params in [
        {"start": iso(day), "end": iso(day + DAY), "interval": "1h"},
        {"start": iso(day), "end": iso(day + DAY), "interval": "10m"},
        {"statsPeriod": "120d", "interval": "6h"},  # only its start is too old
    ]:
        r = await rest(**params)
        assert (r.status_code, r.json()) == (400, {"detail": hourly}), params
    # The `now` parameter cannot bring deleted buckets back.
    r = await rest(start=iso(day), end=iso(day + DAY), interval="1h", now=iso(day + DAY))
    assert (r.status_code, r.json()) == (400, {"detail": hourly})
    r = await rest(start=iso(day), end=iso(day + DAY), interval="1d")
    assert r.status_code == 200 and r.json()["groups"][0]["totals"] == {"sum(session)": 3}
    r = await rest(statsPeriod="150d", interval="1d")
    assert r.status_code == 200 and r.json()["groups"][0]["totals"] == {"sum(session)": 9}

    ancient = NOW - AGES["ancient"]
    r = await rest(start=iso(ancient - ancient % DAY), end=iso(ancient - ancient % DAY + DAY), interval="1d")
    assert (r.status_code, r.json()) == (
        400,
        {"detail": "Session data is kept for 200 days; choose a range that starts within the last 200 days."},
    )

    # GraphQL: the same message with BAD_USER_INPUT.
    body = await gql(
        """query($start: DateTime!, $end: DateTime!) { sessions(organization: "acme", query: {
            fields: ["sum(session)"], start: $start, end: $end, interval: "1h", projects: ["1"]}) {
            start } }""",
        start=iso(day),
        end=iso(day + DAY),
    )
    assert body["errors"][0]["message"] == hourly
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    have = """query($start: DateTime!, $end: DateTime!) { releasesHaveHealthData(projectIds: ["1"],
        releases: ["app@1.0"], start: $start, end: $end) }"""
    body = await gql(have, start=iso(season - 60), end=iso(season + 60))
    assert body["errors"][0]["message"] == hourly
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql(have, start=iso(month - 60), end=iso(month + 60))
    assert body["data"] == {"releasesHaveHealthData": ["app@1.0"]} and "errors" not in body


# -- late updates --------------------------------------------------------------------------


def _envelope(payload: dict[str, object]) -> bytes:
    return b'{}\n{"type":"session"}\n' + json.dumps(payload).encode() + b"\n"


async def test_late_update_lands_in_the_started_bucket(make_app, database_url):
    """An update received 3 days after its session started counts in the session's start
    bucket at minute, hour and day granularity, and in an hourly series at that hour."""
    clock = FixedClock(NOW - 3 * DAY)
    app = await make_app(Settings(database_url=database_url, retention_interval_seconds=0), clock)
    _, key = await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    started = NOW - 3 * DAY - 17 * 60 - 13  # 2025-05-30T09:43:17Z
    sid = "7f1c2a3e-0000-4000-8000-00000000beef"
    base = {
        "sid": sid,
        "did": "user-1",
        "started": iso(started),
        "attrs": {"release": "app@1.0", "environment": "production"},
    }

    async def send(payload: dict[str, object]) -> None:
        r = await app.client.post(
            "/api/1/envelope/",
            content=_envelope(payload),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        )
        assert r.status_code == 200, r.text

    clock.at = started + 5
    await send({**base, "init": True, "seq": 0, "timestamp": iso(started + 5), "status": "ok"})
    clock.at = started + 3 * DAY  # three days later
    await send(
        {
            **base,
            "init": False,
            "seq": 7,
            "timestamp": iso(started + 3 * DAY - 1),
            "status": "crashed",
            "errors": 1,
        }
    )

    store: SessionStore = app.services.store
    for g in (MINUTE, HOUR, DAY):
        bucket = int(started) - int(started) % g
        result = await store.aggregate(
            AggregateQuery(project_ids=(1,), start=bucket, end=bucket + g, granularity=g, quantities=ALL)
        )
        agg = result.totals[GroupKey()]
        assert (agg.counters.started, agg.counters.crashed, agg.errored_set) == (1, 1, 1), g
        assert (agg.users.all, agg.users.crashed) == (1, 1), g
        # Nothing at all in the buckets of the day the update arrived.
        late = int(clock.at) - int(clock.at) % DAY
        after = await store.aggregate(
            AggregateQuery(project_ids=(1,), start=late, end=late + DAY, granularity=g, quantities=ALL)
        )
        assert after.totals == {}, g

    hour = int(started) - int(started) % HOUR
    r = await app.client.get(
        URL,
        headers={"Authorization": f"Bearer {token}"},
        params=[
            ("project", "1"),
            ("field", "sum(session)"),
            ("groupBy", "session.status"),
            ("start", iso(hour - HOUR)),
            ("end", iso(hour + 2 * HOUR)),
            ("interval", "1h"),
        ],
    )
    assert r.status_code == 200, r.text
    series = {g["by"]["session.status"]: g["series"]["sum(session)"] for g in r.json()["groups"]}
    assert series["crashed"] == [0, 1, 0]
    assert series["healthy"] == [0, 0, 0]


async def test_release_stats_beyond_daily_retention_says_so(make_app, sqlite_url):
    """An explicit range older than every retention is an error, not a page of zeros."""
    app = await make_app(Settings(database_url=sqlite_url, **RETENTION))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    q = """{ release(projectId: "1", version: "r@1") { stats(stat: SESSIONS, interval: "1d",
        start: "2020-01-01T00:00:00Z", end: "2020-01-05T00:00:00Z") { totals { total } } } }"""
    r = await app.client.post("/graphql/v1", json={"query": q}, headers={"Authorization": f"Bearer {token}"})
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == (
        "Session data is kept for 200 days; choose a range that starts within the last 200 days."
    )
