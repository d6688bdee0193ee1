"""Counters beyond GraphQL's 32-bit `Int` are exact: the `Count` scalar carries them as JSON
numbers up to 2^53 - 1 and as decimal strings beyond, and one huge legal aggregate bucket
never nulls the numbers of the other releases of its project."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gql.core.scalars import MAX_SAFE_INTEGER, parse_count, serialize_count
from server.clock import FixedClock
from server.settings import Settings
from storage.types import SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
NOW_ISO = "2025-06-02T10:00:30Z"
U32_MAX = 4_294_967_295


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _envelope(release: str, aggregates: list[dict]) -> bytes:
    payload = json.dumps(
        {"attrs": {"release": release, "environment": "production"}, "aggregates": aggregates}
    )
    header = json.dumps({"type": "sessions", "length": len(payload.encode())})
    return f"{{}}\n{header}\n{payload}\n".encode()


async def _ingest(app, key: str, release: str, aggregates: list[dict]) -> None:
    r = await app.client.post(
        "/api/1/envelope/",
        content=_envelope(release, aggregates),
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        },
    )
    assert r.status_code == 200, r.text


async def _setup(make_app, url):
    app = await make_app(Settings(database_url=url), clock=FixedClock(NOW))
    _, key = await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    started = _iso(NOW - 600)
    await _ingest(
        app,
        key,
        "web@1.0",
        [
            {"started": started, "did": "u1", "exited": 2},
            {"started": started, "did": "u2", "crashed": 1},
        ],
    )
    # The largest count a bucket may carry (u32): legal, and beyond GraphQL's Int.
    await _ingest(app, key, "web@2.0", [{"started": started, "did": "u3", "exited": U32_MAX}])
    await _ingest(app, key, "web@3.0", [{"started": started, "did": "u4", "exited": 1}])
    return app, token


async def _gql(app, token: str, query: str) -> dict:
    r = await app.client.post(
        "/graphql/v1", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def test_count_serialization():
    assert serialize_count(0) == 0
    assert serialize_count(U32_MAX) == U32_MAX
    assert serialize_count(MAX_SAFE_INTEGER) == 9_007_199_254_740_991
    assert serialize_count(MAX_SAFE_INTEGER + 1) == "9007199254740992"
    assert serialize_count(-MAX_SAFE_INTEGER - 1) == "-9007199254740992"
    assert serialize_count(2**64) == "18446744073709551616"
    for bad in (1.5, True, "3", None):
        with pytest.raises(TypeError):
            serialize_count(bad)  # type: ignore[arg-type]
    assert parse_count(7) == 7
    assert parse_count("9007199254740993") == 9_007_199_254_740_993
    for bad in ("1e3", "x", 2.0, False, "1" * 41, "٣"):
        with pytest.raises(ValueError):
            parse_count(bad)


async def test_a_huge_bucket_keeps_every_release_exact(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    project_sessions = 3 + U32_MAX + 1
    data = await _gql(
        app,
        token,
        """{ releases(projectIds: ["1"], now: "%s") { nodes { version
        health { totalSessions totalUsers sessionsCrashed sessionsErrored crashFreeSessions }
        adoption { adoption sessionsAdoption sessions24h users24h projectSessions24h projectUsers24h } } } }"""
        % NOW_ISO,
    )
    nodes = {n["version"]: n for n in data["releases"]["nodes"]}
    assert set(nodes) == {"web@1.0", "web@2.0", "web@3.0"}
    expected = {"web@1.0": (3, 2, 1), "web@2.0": (U32_MAX, 1, 0), "web@3.0": (1, 1, 0)}
    for version, (sessions, users, crashed) in expected.items():
        node = nodes[version]
        assert node["health"]["totalSessions"] == sessions
        assert node["health"]["totalUsers"] == users
        assert node["health"]["sessionsCrashed"] == crashed
        assert node["health"]["sessionsErrored"] == 0  # errored but not crashed
        assert node["health"]["crashFreeSessions"] == pytest.approx(100 * (1 - crashed / sessions), rel=1e-12)
        adoption = node["adoption"]
        assert adoption["sessions24h"] == sessions
        assert adoption["users24h"] == users
        assert adoption["projectSessions24h"] == project_sessions
        assert adoption["projectUsers24h"] == 4
        assert adoption["adoption"] == pytest.approx(100 * users / 4, rel=1e-12)
        assert adoption["sessionsAdoption"] == pytest.approx(100 * sessions / project_sessions, rel=1e-12)
    # The JSON carries the integer itself, not a rounded float.
    assert nodes["web@2.0"]["health"]["totalSessions"] == 4294967295


async def test_every_counter_field_is_exact(make_app, sqlite_url):
    app, token = await _setup(make_app, sqlite_url)
    start, end = "2025-06-02T00:00:00Z", "2025-06-02T11:00:00Z"
    data = await _gql(
        app,
        token,
        """{
      project(id: "1") {
        sessionsCount(start: "%(s)s", end: "%(e)s", now: "%(n)s")
        ingestOutcomes { kind count }
        release(version: "web@2.0") {
          stats(stat: SESSIONS, interval: "1h", start: "%(s)s", end: "%(e)s", now: "%(n)s") {
            total healthy totals { total healthy } }
          crashFreeBreakdown(start: "2025-06-02T09:00:00Z", now: "%(n)s") { totalSessions }
          health(healthStatsPeriod: "24h", now: "%(n)s") { series { values } }
        }
      }
      sessionsPerProject(projectIds: ["1"], start: "%(s)s", end: "%(e)s", now: "%(n)s") { sessions }
      sessions(organization: "acme", query: {fields: ["sum(session)", "crash_free_rate(session)"],
               groupBy: ["release"], start: "%(s)s", end: "%(e)s", interval: "1h", now: "%(n)s"}) {
        groups { by { release } totals { field value count } series { field counts } }
      }
    }"""
        % {"s": start, "e": end, "n": NOW_ISO},
    )
    total = 3 + U32_MAX + 1
    project = data["project"]
    assert project["sessionsCount"] == total
    assert data["sessionsPerProject"] == [{"sessions": total}]
    stats = project["release"]["stats"]
    assert max(stats["total"]) == U32_MAX and sum(stats["total"]) == U32_MAX
    assert max(stats["healthy"]) == U32_MAX
    assert stats["totals"] == {"total": U32_MAX, "healthy": U32_MAX}
    assert project["release"]["crashFreeBreakdown"][0]["totalSessions"] == U32_MAX
    assert sum(project["release"]["health"]["series"]["values"]) == U32_MAX
    assert sum(o["count"] for o in project["ingestOutcomes"] if o["kind"] == "accepted") == 4
    groups = {g["by"]["release"]: g for g in data["sessions"]["groups"]}
    big = groups["web@2.0"]
    assert big["totals"][0] == {"field": "sum(session)", "value": float(U32_MAX), "count": U32_MAX}
    assert big["totals"][1]["count"] is None  # a rate has no count
    assert sum(big["series"][0]["counts"]) == U32_MAX
    assert big["series"][1]["counts"] is None


async def test_counts_beyond_2_53_are_decimal_strings(make_app, sqlite_url):
    app, token = await _setup(make_app, sqlite_url)
    huge = 2**53 + 1  # not representable as a double: a JSON number would round it
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    SessionIncrement(1, "web@9.0", "production", NOW - 60, started_count=huge),
                ]
            )
        ]
    )
    data = await _gql(
        app,
        token,
        """{ release(projectId: "1", version: "web@9.0") {
        health(now: "%s") { totalSessions } adoption(now: "%s") { sessions24h projectSessions24h } } }"""
        % (NOW_ISO, NOW_ISO),
    )
    release = data["release"]
    assert release["health"]["totalSessions"] == "9007199254740993"
    assert release["adoption"]["sessions24h"] == "9007199254740993"
    assert release["adoption"]["projectSessions24h"] == str(huge + 3 + U32_MAX + 1)
