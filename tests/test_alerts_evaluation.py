"""Alert evaluation end to end: sessions sent through the real ingest endpoint of a live
server whose clock is moved minute by minute, evaluated by `AlertTask` (as the server's
own task and `relhealth alerts evaluate` do), every transition counted in
`alert_incident`. Runs on a SQLite file and on PostgreSQL.

The data, worked by hand (project 1, environment production, clock on 2025-06-02):
app@1.0 had 100 healthy sessions at 11:00; app@2.0 (the latest release: first seen in
the 12:00 hour) gets sessions started at 12:00, sent before each minute is evaluated.
The rule: crash-free sessions of the latest release over the last hour, BELOW warning 95
(resolve 97) and critical 90 (resolve 92), at least 10 sessions.

    minute  sent (crashed)  total  crashed  crash-free  level     transition
    12:01   20 (0)          20     0        100 %       OK        -
    12:02   20 (2)          40     2        95 %        OK        - (equal is not below)
    12:03   10 (2)          50     4        92 %        WARNING   open, 92
    12:04   50 (8)          100    12       88 %        CRITICAL  escalate, 88
    12:05   100 (0)         200    12       94 %        WARNING   deescalate (94 >= 92)
    12:06   100 (0)         300    12       96 %        WARNING   - (96 < resolve 97)
    12:07   100 (0)         400    12       97 %        OK        resolve, 97
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from jobs.alerts import AlertTask, evaluator_lock
from resolvers.alerts import Level, TransitionKind
from server.clock import FixedClock
from server.settings import Settings
from storage import alerts

NOON = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()
STEPS = [(20, 0), (20, 2), (10, 2), (50, 8), (100, 0), (100, 0), (100, 0)]
RULE = alerts.AlertRuleSpec(
    name="latest crash-free",
    environment="production",
    selector="latest",
    metric="crash_free_sessions",
    direction="below",
    time_window="LAST_HOUR",
    warning=95,
    critical=90,
    warning_resolve=97,
    critical_resolve=92,
    min_sessions=10,
)


def _minute(n: int) -> float:
    return NOON + 60 * n


class World:
    def __init__(self, server: Any, key: str, clock: FixedClock) -> None:
        self.server, self.key, self.clock = server, key, clock

    def send(self, release: str, started: str, exited: int, crashed: int) -> None:
        header = {"sdk": {"name": "sentry.cocoa", "version": "8.0.0"}}
        bucket = {"started": started, "exited": exited, "crashed": crashed}
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

    def evaluate(self, task: AlertTask | None = None) -> list[alerts.Transition] | None:
        t = task or self.task()
        return self.server.run(lambda: t.run_once()).transitions  # type: ignore[no-any-return]

    def rule(self, spec: alerts.AlertRuleSpec = RULE) -> alerts.AlertRule:
        engine = self.server.services.engine
        return self.server.run(lambda: alerts.create(engine, 1, 1, spec))  # type: ignore[no-any-return]

    def incidents(self, rule_id: int) -> list[alerts.Incident]:
        engine = self.server.services.engine
        return self.server.run(lambda: alerts.incidents(engine, [rule_id]))[rule_id]  # type: ignore[no-any-return]

    def states(self, rule_id: int) -> dict[str, alerts.State]:
        engine = self.server.services.engine
        return self.server.run(lambda: alerts.states(engine, rule_id))  # type: ignore[no-any-return]

    def count(self, table: Any) -> int:
        engine = self.server.services.engine

        async def go() -> int:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

        return self.server.run(go)  # type: ignore[no-any-return]


@pytest.fixture
def world(live_server: Any, database_url: str) -> World:
    clock = FixedClock(NOON)
    server = live_server(Settings(database_url=database_url, alert_interval_seconds=0), clock)
    accounts = server.services.accounts
    _, key = server.run(lambda: accounts.create_project("acme", "mobile", 1))
    w = World(server, key, clock)
    w.send("app@1.0", "2025-06-02T11:00:00Z", 100, 0)
    return w


def _walk(world: World, rule: alerts.AlertRule) -> list[tuple[str, str, str, float | None]]:
    """Send each minute's sessions, move the clock there and evaluate; the transitions."""
    seen = []
    for n, (sent, crashed) in enumerate(STEPS, start=1):
        world.send("app@2.0", "2025-06-02T12:00:00Z", sent - crashed, crashed)
        world.clock.at = _minute(n)
        for t in world.evaluate() or []:
            assert t.rule.id == rule.id and t.release == "app@2.0"
            seen.append(
                (datetime.fromtimestamp(t.at, UTC).strftime("%H:%M"), t.after.name, t.kind.value, t.value)
            )
    return seen


def test_a_bad_release_warns_escalates_and_resolves_once(world: World) -> None:
    rule = world.rule()
    assert _walk(world, rule) == [
        ("12:03", "WARNING", "open", 92.0),
        ("12:04", "CRITICAL", "escalate", 88.0),
        ("12:05", "WARNING", "deescalate", 94.0),
        ("12:07", "OK", "resolve", 97.0),
    ]
    [incident] = world.incidents(rule.id)
    assert (incident.release, incident.level) == ("app@2.0", Level.CRITICAL)
    assert (incident.opened_at.strftime("%H:%M"), incident.open_value) == ("12:03", 92.0)
    assert incident.escalated_at is not None and incident.escalated_at.strftime("%H:%M") == "12:04"
    assert incident.escalate_value == 88.0
    assert incident.closed_at is not None and incident.closed_at.strftime("%H:%M") == "12:07"
    assert incident.close_value == 97.0
    state = world.states(rule.id)["app@2.0"]
    assert (state.level, state.value, state.evaluated_through) == (Level.OK, 97.0, int(_minute(7)))

    # A re-run of committed minutes adds nothing: the same instant again, and the rule's
    # progress set back (a process killed after its transitions, before `advance`).
    assert world.evaluate() == []
    engine = world.server.services.engine

    async def rewind() -> None:
        async with engine.begin() as conn:
            t = alerts.ALERT_RULE
            await conn.execute(update(t).where(t.c.id == rule.id).values(evaluated_through=int(_minute(2))))

    world.server.run(rewind)
    assert world.evaluate() == []
    assert world.count(alerts.ALERT_INCIDENT) == 1
    assert world.states(rule.id)["app@2.0"].evaluated_through == int(_minute(7))


def test_catch_up_evaluates_each_missed_minute_at_its_own_instant(world: World) -> None:
    """A stopped evaluator resumes: the minutes it missed are evaluated one by one, at
    most `catchup` of them (the data is all in by then, so each sees 400 sessions, 12
    crashed: 97 %, OK)."""
    rule = world.rule()
    world.clock.at = _minute(0)
    assert world.evaluate() == []  # 12:00: no app@2.0 yet, only app@1.0 (100 %)
    for sent, crashed in STEPS:
        world.send("app@2.0", "2025-06-02T12:00:00Z", sent - crashed, crashed)
    world.clock.at = _minute(7)
    s = world.server.services
    bounded = AlertTask(s.engine, s.store, s.query_options, interval=0, now=world.clock.now, catchup=3)
    result = world.server.run(lambda: bounded.run_once())
    # 12:01..12:04 are skipped (older than 3 minutes), 12:05..12:07 evaluated: all OK.
    assert (result.transitions, result.skipped_minutes) == ([], 4)
    through = world.server.run(lambda: alerts.by_ids(world.server.services.engine, 1, [rule.id]))
    assert through[rule.id].evaluated_through == int(_minute(7))


def test_below_the_minimum_volume_nothing_fires(world: World) -> None:
    rule = world.rule(replace(RULE, min_sessions=1000))
    transitions = _walk(world, rule)
    # The first minute records the state INSUFFICIENT_DATA (no incident); nothing after.
    assert transitions == [("12:01", "INSUFFICIENT_DATA", "state", 100.0)]
    assert world.incidents(rule.id) == []
    assert world.states(rule.id)["app@2.0"].level is Level.INSUFFICIENT_DATA


def test_two_evaluators_on_one_database_record_one_transition(world: World) -> None:
    rule = world.rule()
    world.send("app@2.0", "2025-06-02T12:00:00Z", 40, 10)  # 50 sessions, 10 crashed: 80 %
    world.clock.at = _minute(1)
    first, second = world.task(), world.task()

    async def both() -> list[list[alerts.Transition] | None]:
        results = await asyncio.gather(first.run_once(), second.run_once())
        return [r.transitions for r in results]

    results = world.server.run(both)
    found = [t for r in results for t in r or []]
    assert [(t.after, t.kind) for t in found] == [(Level.CRITICAL, TransitionKind.OPEN)]
    assert world.count(alerts.ALERT_INCIDENT) == 1
    assert world.incidents(rule.id)[0].open_value == 80.0


def test_the_evaluator_lock_is_exclusive(world: World) -> None:
    engine = world.server.services.engine

    async def nested() -> tuple[bool, bool, bool]:
        async with evaluator_lock(engine) as outer, evaluator_lock(engine) as inner:
            pass
        async with evaluator_lock(engine) as again:
            pass
        return outer, inner, again

    assert world.server.run(nested) == (True, False, True)


def test_the_server_evaluates_by_itself(live_server: Any, sqlite_url: str) -> None:
    """The server's own `AlertTask` (every second here) records the incident."""
    clock = FixedClock(_minute(1))
    server = live_server(Settings(database_url=sqlite_url, alert_interval_seconds=1), clock)
    _, key = server.run(lambda: server.services.accounts.create_project("acme", "mobile", 1))
    world = World(server, key, clock)
    rule = world.rule()
    world.send("app@2.0", "2025-06-02T12:00:00Z", 40, 10)  # 50 sessions, 10 crashed: 80 %
    deadline = time.monotonic() + 15
    while not world.incidents(rule.id) and time.monotonic() < deadline:
        time.sleep(0.2)
    [incident] = world.incidents(rule.id)
    assert (incident.level, incident.open_value, incident.opened_at.strftime("%H:%M")) == (
        Level.CRITICAL,
        80.0,
        "12:01",
    )


def test_each_transition_enqueues_one_webhook_event_in_its_own_transaction(world: World) -> None:
    """The outbox row is written with the transition: four transitions, four events for
    the subscribed endpoint, none for the unsubscribed one, and none more on a re-run."""
    from storage import webhooks

    engine = world.server.services.engine
    subscribed = world.server.run(
        lambda: webhooks.create_endpoint(
            engine, 1, "http://127.0.0.1:9/hook", ["alert.transition"], True, now=NOON
        )
    )
    world.server.run(
        lambda: webhooks.create_endpoint(
            engine, 1, "http://127.0.0.1:9/other", ["gate.verdict_changed"], True, now=NOON
        )
    )
    rule = world.rule()
    assert len(_walk(world, rule)) == 4

    async def outbox() -> list[tuple[int, dict[str, Any]]]:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(webhooks.OUTBOX).order_by(webhooks.OUTBOX.c.id))).all()
        return [(int(r.endpoint_id), json.loads(r.payload)) for r in rows]

    events = world.server.run(outbox)
    assert [e for e, _ in events] == [subscribed.id] * 4
    assert [(p["to"], p["kind"], p["at"], p["value"]) for _, p in events] == [
        ("WARNING", "open", "2025-06-02T12:03:00Z", 92.0),
        ("CRITICAL", "escalate", "2025-06-02T12:04:00Z", 88.0),
        ("WARNING", "deescalate", "2025-06-02T12:05:00Z", 94.0),
        ("OK", "resolve", "2025-06-02T12:07:00Z", 97.0),
    ]
    assert events[0][1]["release"] == "app@2.0" and events[0][1]["rule"]["id"] == rule.id
    assert world.evaluate() == [] and len(world.server.run(outbox)) == 4

    # The event log holds the same four events once, in commit order, for subscriptions
    # (beside the releases' adoption-stage changes, jobs/changes.py).
    from storage import events as event_log

    alert_only = ["alert.transition"]
    logged = world.server.run(lambda: event_log.events_after(engine, 0, types=alert_only))
    assert [(e.event_type, e.project_id, e.payload) for e in logged] == [
        ("alert.transition", 1, p) for _, p in events
    ]
    assert world.server.run(lambda: event_log.last_id(engine)) >= logged[-1].id
    after = world.server.run(lambda: event_log.events_after(engine, logged[1].id, types=alert_only))
    assert after == logged[2:]
