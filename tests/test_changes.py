"""Gate verdict and adoption-stage change events end to end (`jobs/changes.py`): sessions
sent through the real ingest endpoint of a live server whose clock is moved minute by
minute, each minute evaluated by `AlertTask.run_once` (the server's own pass) or by
`detect_changes`. Runs on a SQLite file and on PostgreSQL. Project 1, environment
production, clock on 2025-06-02; numbers worked out by hand in each test's docstring."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from jobs.alerts import AlertTask
from jobs.changes import Change, detect_changes
from server.clock import FixedClock
from server.settings import Settings
from storage import changes, events, gates, webhooks
from storage.engine import StatementCounter

NOON = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()
GATE = gates.GateRule(
    environment="production",
    time_window="LAST_HOUR",
    crash_free_sessions_target=95,
    crash_free_sessions_critical=90,
    min_sessions=10,
)


def _minute(n: int) -> int:
    return int(NOON + 60 * n)


class World:
    def __init__(self, server: Any, key: str, clock: FixedClock) -> None:
        self.server, self.key, self.clock = server, key, clock
        self.engine = server.services.engine

    def send(self, release: str, started: str, exited: int, crashed: int = 0, did: str | None = None) -> None:
        header = {"sdk": {"name": "sentry.cocoa", "version": "8.0.0"}}
        bucket: dict[str, Any] = {"started": started, "exited": exited, "crashed": crashed}
        if did is not None:
            bucket["did"] = did
        item = {"aggregates": [bucket], "attrs": {"release": release, "environment": "production"}}
        body = f"{json.dumps(header)}\n{json.dumps({'type': 'sessions'})}\n{json.dumps(item)}\n"
        r = httpx.post(
            f"{self.server.url}/api/1/envelope/",
            content=body.encode(),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={self.key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text

    def task(self) -> AlertTask:
        s = self.server.services
        return AlertTask(s.engine, s.store, s.query_options, interval=0, now=self.clock.now)

    def evaluate(self, minute: int) -> None:
        """The evaluator's pass at `minute` (rules, then changes)."""
        self.clock.at = _minute(minute)
        task = self.task()
        self.server.run(lambda: task.run_once())

    def detect(self, minute: int) -> list[Change]:
        s = self.server.services
        return self.server.run(  # type: ignore[no-any-return]
            lambda: detect_changes(s.engine, s.store, s.query_options, _minute(minute))
        )

    def gate(self, rule: gates.GateRule = GATE) -> gates.Gate:
        return self.server.run(lambda: gates.create(self.engine, 1, 1, rule))  # type: ignore[no-any-return]

    def events(self, event_type: str) -> list[events.Event]:
        logged = self.server.run(lambda: events.events_after(self.engine, 0, types=[event_type]))
        return logged  # type: ignore[no-any-return]

    def count(self, table: Any) -> int:
        async def go() -> int:
            async with self.engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

        return self.server.run(go)  # type: ignore[no-any-return]


@pytest.fixture
def world(live_server: Any, database_url: str) -> World:
    clock = FixedClock(NOON)
    # No pass of its own (the tests run each one), and no webhook sender polling the
    # outbox (its statements would be counted with the pass's).
    settings = Settings(database_url=database_url, alert_interval_seconds=0, webhook_interval_seconds=0)
    server = live_server(settings, clock)
    _, key = server.run(lambda: server.services.accounts.create_project("acme", "mobile", 1))
    return World(server, key, clock)


def _verdicts(world: World) -> list[tuple[str, str, str | None, str, int, float | None, str]]:
    return [
        (
            e.payload["at"][11:16],
            e.payload["release"],
            e.payload["from"],
            e.payload["to"],
            e.payload["numbers"]["sessions"],
            e.payload["numbers"]["crashFreeSessionRate"],
            e.payload["rule"],
        )
        for e in world.events("gate.verdict_changed")
    ]


def _stages(world: World) -> list[tuple[str, str, str | None, str]]:
    return [
        (e.payload["at"][11:16], e.payload["release"], e.payload["from"], e.payload["to"])
        for e in world.events("adoption.stage_changed")
    ]


def test_a_release_crossing_the_gate_levels_passes_warns_and_fails_once_each(world: World) -> None:
    """The gate: production, LAST_HOUR (read hourly and widened: the 12:00 bucket is in
    it all along), crash-free sessions target 95, critical 90, at least 10 sessions.
    app@2.0 starts sessions in the 12:00 bucket, sent before each minute is evaluated:

        minute  sent (crashed)  total  crashed  crash-free  verdict  event
        12:01   20 (0)          20     0        100 %       PASS     none -> PASS
        12:02   20 (2)          40     2        95 %        PASS     - (equal is not below)
        12:03   10 (2)          50     4        92 %        WARN     PASS -> WARN
        12:04   50 (8)          100    12       88 %        FAIL     WARN -> FAIL
        12:05   -               100    12       88 %        FAIL     -

    The release is the project's only one: its 24-hour session adoption is 100 %; its
    sessions carry no `did`, so it has 0 users and no crash-free user rate."""
    gate = world.gate()
    for n, (sent, crashed) in enumerate([(20, 0), (20, 2), (10, 2), (50, 8), (0, 0)], start=1):
        if sent:
            world.send("app@2.0", "2025-06-02T12:00:00Z", sent - crashed, crashed)
        world.evaluate(n)
    assert _verdicts(world) == [
        ("12:01", "app@2.0", None, "PASS", 20, 100.0, "every level is met"),
        ("12:03", "app@2.0", "PASS", "WARN", 50, 92.0, "crash-free sessions 92 % is below the target 95 %"),
        (
            "12:04",
            "app@2.0",
            "WARN",
            "FAIL",
            100,
            88.0,
            "crash-free sessions 88 % is below the critical level 90 %",
        ),
    ]
    first = world.events("gate.verdict_changed")[0]
    assert first.payload["gate"] == {"id": gate.id, "environment": "production"}
    assert (first.payload["projectId"], first.payload["environment"]) == (1, "production")
    assert first.payload["numbers"] == {
        "sessions": 20,
        "users": 0,
        "crashFreeSessionRate": 100.0,
        "crashFreeUserRate": None,
        "adoption": 100.0,
    }
    assert first.payload["at"] == "2025-06-02T12:01:00Z" and first.project_id == 1
    # Subscriptions read the same payload: every field of the event is there.
    from gql.gates.types import GateOutcome
    from gql.subscriptions.types import GateVerdictChangeEvent

    seen = GateVerdictChangeEvent.of(first)
    assert (seen.from_, seen.to, seen.environment) == (None, GateOutcome.PASS, "production")
    assert (seen.sessions, seen.users, seen.crash_free_session_rate) == (20, 0, 100.0)
    assert (seen.crash_free_user_rate, seen.adoption) == (None, 100.0)
    last = GateVerdictChangeEvent.of(world.events("gate.verdict_changed")[-1])
    assert (last.to, last.crash_free_session_rate, last.rule) == (
        GateOutcome.FAIL,
        88.0,
        "crash-free sessions 88 % is below the critical level 90 %",
    )

    # Re-running committed minutes adds nothing: the verdict equals the recorded one.
    assert [c for m in (4, 5) for c in world.detect(m) if c.event_type == "gate.verdict_changed"] == []
    assert len(world.events("gate.verdict_changed")) == 3
    states = world.server.run(lambda: changes.gate_states(world.engine, [gate.id]))
    assert states == {(gate.id, "app@2.0"): changes.State("FAIL", _minute(4))}

    # The event agrees with `ReleaseHealth.gate` at the same instant.
    query = """{ release(project: "1", version: "app@2.0") { health(scope: {window: {period: LAST_HOUR},
      at: "2025-06-02T12:04:00Z"}) { gate(environment: "production") { verdict rule sessions } } } }"""
    token = world.server.run(lambda: world.server.services.accounts.create_token("acme", ["org:read"]))
    r = httpx.post(
        f"{world.server.url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.json()["data"]["release"]["health"]["gate"] == {
        "verdict": "FAIL",
        "rule": "crash-free sessions 88 % is below the critical level 90 %",
        "sessions": 100,
    }

    # A removed gate takes its recorded verdicts with it.
    assert world.server.run(lambda: gates.remove(world.engine, 1, gate.id))
    assert world.count(changes.GATE_VERDICT_STATE) == 0


def test_a_ramping_release_is_adopted_then_replaced(world: World) -> None:
    """Stages by release-health.md 6.2 (threshold 10 %, window 6 h): a share is over the
    buckets starting in [t - 6 h, t); a stage at T looks at every hour boundary up to T
    and at T itself (not at the minutes evaluated before: a release must be adopted at
    an hour boundary to be `replaced` later rather than `low_adoption` again).
    app@1.0 started 100 sessions (user u1) in the 09:00 bucket:

        minute  sent                       in [t-6h, t)                 stages (share)
        12:01   app@2.0 5 (u2) at 12:00    1.0 100, 2.0 5: 105          1.0 adopted (100/105; also at 10, 11, 12:00),
                                                                        2.0 low (5/105 = 4.8 %)
        12:02   app@2.0 10 (u2) at 12:00   1.0 100, 2.0 15: 115         2.0 adopted (15/115 = 13.0 %)
        12:03   app@2.0 900 (u2) at 12:00  1.0 100, 2.0 915: 1015       1.0 replaced (100/1015 = 9.85 %)
        13:01   app@3.0 9000 (u3) at 13:00 at 13:00: 1015 (3.0 not yet)  2.0 adopted at 13:00 (915/1015), then at
                                           at 13:01: + 3.0 9000: 10015  13:01 replaced (915/10015 = 9.14 %);
                                                                        3.0 adopted (9000/10015 = 89.9 %)

    Each event carries the 24-hour adoption: at 12:01 app@1.0 has 100 of 105 sessions
    (95.24 %) and one of two users (50 %); app@2.0 5 of 105 (4.76 %) and 50 %; at 12:02
    app@2.0 15 of 115 (13.04 %)."""
    world.send("app@1.0", "2025-06-02T09:00:00Z", 100, did="u1")
    steps = [
        (1, "app@2.0", "12:00", 5, "u2"),
        (2, "app@2.0", "12:00", 10, "u2"),
        (3, "app@2.0", "12:00", 900, "u2"),
        (61, "app@3.0", "13:00", 9000, "u3"),
    ]
    for n, release, hour, sent, did in steps:
        world.clock.at = _minute(n)
        world.send(release, f"2025-06-02T{hour}:00Z", sent, did=did)
        world.evaluate(n)
    assert _stages(world) == [
        ("12:01", "app@1.0", None, "ADOPTED"),
        ("12:01", "app@2.0", None, "LOW_ADOPTION"),
        ("12:02", "app@2.0", "LOW_ADOPTION", "ADOPTED"),
        ("12:03", "app@1.0", "ADOPTED", "REPLACED"),
        ("13:01", "app@2.0", "ADOPTED", "REPLACED"),
        ("13:01", "app@3.0", None, "ADOPTED"),
    ]
    logged = world.events("adoption.stage_changed")
    assert [e.payload["adoption"] for e in logged[:3]] == [
        {"sessionRate": pytest.approx(100 / 105 * 100), "userRate": 50.0},
        {"sessionRate": pytest.approx(5 / 105 * 100), "userRate": 50.0},
        {"sessionRate": pytest.approx(15 / 115 * 100), "userRate": 50.0},
    ]
    assert logged[0].payload["projectId"] == 1 and logged[0].payload["environment"] == "production"
    # Subscriptions read the same payload.
    from gql.core.enums import AdoptionStage
    from gql.subscriptions.types import AdoptionStageChangeEvent

    seen = AdoptionStageChangeEvent.of(logged[2])
    assert (seen.from_, seen.to, seen.release.version) == (
        AdoptionStage.LOW_ADOPTION,
        AdoptionStage.ADOPTED,
        "app@2.0",
    )
    assert (seen.session_adoption, seen.user_adoption) == (pytest.approx(15 / 115 * 100), 50.0)

    # A re-run, and the next minute with no new data, add nothing.
    assert world.detect(61) == [] and world.detect(62) == []
    assert len(world.events("adoption.stage_changed")) == 6
    states = world.server.run(lambda: changes.stage_states(world.engine, [1]))
    assert states[(1, "production", "app@2.0")] == changes.State("REPLACED", _minute(61))

    # 19:01: the 13:00 bucket has left the stage window [13:01, 19:01): nothing is
    # adopted. app@1.0 and app@2.0 stay replaced; app@3.0 (recorded adopted) becomes
    # replaced, once.
    moved = world.detect(7 * 60 + 1)
    assert [(c.release, c.before, c.after) for c in moved] == [("app@3.0", "ADOPTED", "REPLACED")]
    assert world.detect(7 * 60 + 2) == []


def test_subscribed_webhook_endpoints_get_an_outbox_row_per_change(world: World) -> None:
    """Endpoint A takes both new types, B only alert transitions. Three verdict changes
    (as in the first test, 12:01 PASS, 12:03 WARN, 12:04 FAIL) and one stage change
    (app@2.0, the only release: none -> ADOPTED at 12:01) give A four rows, B none."""
    now = NOON
    subscribed = world.server.run(
        lambda: webhooks.create_endpoint(
            world.engine,
            1,
            "http://127.0.0.1:9/hook",
            ["gate.verdict_changed", "adoption.stage_changed"],
            True,
            now=now,
        )
    )
    world.server.run(
        lambda: webhooks.create_endpoint(
            world.engine, 1, "http://127.0.0.1:9/other", ["alert.transition"], True, now=now
        )
    )
    world.gate()
    for n, (sent, crashed) in enumerate([(20, 0), (20, 2), (10, 2), (50, 8)], start=1):
        world.send("app@2.0", "2025-06-02T12:00:00Z", sent - crashed, crashed)
        world.evaluate(n)

    async def outbox() -> list[tuple[int, str, str]]:
        async with world.engine.connect() as conn:
            rows = (await conn.execute(select(webhooks.OUTBOX).order_by(webhooks.OUTBOX.c.id))).all()
        return [(int(r.endpoint_id), str(r.event_type), str(r.event_key)) for r in rows]

    rows = world.server.run(outbox)
    assert [(e, t) for e, t, _ in rows] == [
        (subscribed.id, "gate.verdict_changed"),
        (subscribed.id, "adoption.stage_changed"),
        (subscribed.id, "gate.verdict_changed"),
        (subscribed.id, "gate.verdict_changed"),
    ]
    gate_id = world.events("gate.verdict_changed")[0].payload["gate"]["id"]
    assert rows[0][2] == f"gate:{gate_id}:app@2.0:{_minute(1)}:PASS"
    assert rows[1][2] == f'adoption:1:["production", "app@2.0"]:{_minute(1)}:ADOPTED'
    world.evaluate(4)
    assert len(world.server.run(outbox)) == 4


def test_two_evaluators_publish_one_event_per_change(world: World) -> None:
    """50 sessions, 10 crashed (80 %): FAIL at once; the release is the only one, so
    ADOPTED. Two `AlertTask`s at once (the lock lets one through), then two bare
    detectors at once (no lock: the compare-and-set decides) on new data, 150 healthy
    sessions more (190 of 200: 95 %, PASS)."""
    world.gate()
    world.send("app@2.0", "2025-06-02T12:00:00Z", 40, 10)
    world.clock.at = _minute(1)
    first, second = world.task(), world.task()

    async def both_tasks() -> None:
        await asyncio.gather(first.run_once(), second.run_once())

    world.server.run(both_tasks)
    world.send("app@2.0", "2025-06-02T12:00:00Z", 150)
    s = world.server.services

    async def both_detectors() -> list[list[Change]]:
        return list(
            await asyncio.gather(
                detect_changes(s.engine, s.store, s.query_options, _minute(2)),
                detect_changes(s.engine, s.store, s.query_options, _minute(2)),
            )
        )

    found = world.server.run(both_detectors)
    assert sorted(len(f) for f in found) == [0, 1]
    assert [(v[0], v[2], v[3]) for v in _verdicts(world)] == [
        ("12:01", None, "FAIL"),
        ("12:02", "FAIL", "PASS"),
    ]
    assert _stages(world) == [("12:01", "app@2.0", None, "ADOPTED")]


def test_statements_per_pass_do_not_grow_with_releases(world: World) -> None:
    """A pass with nothing new costs the same statements for 2 releases as for 20, with
    a plain gate and a dimension-filtered one; a pass with changes adds one event each."""
    world.gate()
    world.gate(gates.GateRule(dimension="os.name", dimension_value="iOS", min_sessions=1))

    def send(releases: range) -> None:
        for i in releases:
            world.send(f"app@{i}.0", "2025-06-02T12:00:00Z", 10 + i)

    def counted(minute: int) -> tuple[int, int, list[Change]]:
        s = world.server.services
        counter = StatementCounter(world.engine)
        try:
            found = world.server.run(
                lambda: detect_changes(s.engine, s.store, s.query_options, _minute(minute))
            )
        finally:
            counter.close()
        inserted = sum(
            1 for q in counter.statements if q.lstrip().upper().startswith("INSERT INTO HEALTH_EVENT")
        )
        return counter.count, inserted, found

    send(range(2))
    _, inserted, found = counted(1)
    assert inserted == len(found) > 0
    steady_2, inserted, found = counted(2)
    assert (inserted, found) == (0, [])
    send(range(2, 20))
    _, inserted, found = counted(3)
    # 18 new releases: a first verdict from each gate and a first stage each.
    assert inserted == len(found) >= 18 * 3
    steady_20, inserted, found = counted(4)
    assert (inserted, found) == (0, [])
    assert steady_2 == steady_20 > 0, (steady_2, steady_20)
