"""Late data re-evaluates past windows (docs/alerts.md "Late data"): sessions that arrive
after their hour ended mark (project, hour) in the ingest commit, and the next pass
replays the minutes already evaluated whose window holds that hour. Real ingest, the
clock moved; SQLite file and PostgreSQL.

Worked by hand. Project 1, production, app@1.0 the only (so the latest) release. The rule:
crash-free sessions over the last hour, warning 95 (resolve 95), at least 10 sessions. A
minute's window `[at - 1 h, at]` is read in whole hours: `[floor(at - 1 h), ceil(at))`.

Sent in time: 100 healthy sessions started in each of the hours 09:00 (sent at 10:00,
before the rule's first pass), 10:00, 11:00 and 12:00. The rule is evaluated at 10:00,
then every minute up to 12:30 (one catch-up pass): every minute sees 100 % (OK, no
transition). At 12:30, 100 sessions started at 10:15 arrive, 20 of them crashed.

    minutes         hours read    sessions  crashed  crash-free  level
    10:01 .. 10:59  09, 10        300       20       93.3 %      WARNING (late open at 10:01)
    11:00           10            200       20       90 %        WARNING
    11:01 .. 11:59  10, 11        300       20       93.3 %      WARNING
    12:00           11            100       0        100 %       OK (late resolve at 12:00)
    12:01 .. 12:31  11, 12        200       0        100 %       OK

So the pass at 12:31 records two transitions, each with its true minute and `late`, one
incident (opened 10:01 at 93.3, closed 12:00 at 100, late), and leaves the state OK.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from resolvers.alerts import Level, TransitionKind
from storage import alert_history, alerts, webhooks
from tests.alert_world import AlertWorld, brief, hhmm

RULE = {
    "name": "latest crash-free",
    "environment": "production",
    "metric": "CRASH_FREE_SESSIONS",
    "window": "LAST_HOUR",
    "warning": 95,
    "minSessions": 10,
}
LATE = [(1, "app@1.0", "10:01", "WARNING", pytest.approx(280 / 3)), (1, "app@1.0", "12:00", "OK", 100.0)]


@pytest.fixture
def world(live_server: Any, database_url: str) -> AlertWorld:
    w = AlertWorld(live_server, database_url, "2025-06-02T10:00", alert_catchup_minutes=240)
    w.send("app@1.0", "2025-06-02T09:00", 100)
    assert w.rule_id(**RULE) == 1
    assert w.evaluate_at("2025-06-02T10:00") == []
    for hour in ("10", "11", "12"):
        w.clock.at = w.clock.at if hour == "10" else w.clock.at + 3600
        w.send("app@1.0", f"2025-06-02T{hour}:00", 100)
    assert w.evaluate_at("2025-06-02T12:30") == []
    assert _marks(w) == []  # data for the hour in progress is not late
    return w


def _marks(world: AlertWorld) -> list[tuple[int, str]]:
    found = world.server.run(lambda: alert_history.marks(world.engine))
    return [(m.project_id, hhmm(m.hour)) for m in found]


def _count(world: AlertWorld, table: Any) -> int:
    async def go() -> int:
        async with world.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())

    return world.server.run(go)  # type: ignore[no-any-return]


def _rule_gid(world: AlertWorld) -> str:
    rules = world.graphql('{ project(id: "1") { alertRules(first: 1) { nodes { id } } } }')
    return str(rules["project"]["alertRules"]["nodes"][0]["id"])


def _send_late(world: AlertWorld) -> None:
    world.send("app@1.0", "2025-06-02T10:15", 80, 20)
    assert _marks(world) == [(1, "10:00")]


def test_late_crashes_open_and_resolve_a_past_incident(world: AlertWorld) -> None:
    endpoint = world.server.run(
        lambda: webhooks.create_endpoint(
            world.engine, 1, "http://127.0.0.1:9/hook", ["alert.transition"], True, now=world.clock.now()
        )
    )
    _send_late(world)
    found = world.evaluate_at("2025-06-02T12:31")
    assert brief(found) == LATE
    assert [(t.kind, t.late) for t in found] == [(TransitionKind.OPEN, True), (TransitionKind.RESOLVE, True)]
    [incident] = world.incidents(1)
    assert (hhmm(incident.opened_at.timestamp()), incident.open_value, incident.level) == (
        "10:01",
        pytest.approx(280 / 3),
        Level.WARNING,
    )
    assert incident.closed_at is not None and hhmm(incident.closed_at.timestamp()) == "12:00"
    assert (incident.close_value, incident.late) == (100.0, True)
    state = world.states(1)["app@1.0"]
    assert (state.level, state.value, hhmm(state.evaluated_through)) == (Level.OK, 100.0, "12:00")
    assert _marks(world) == []
    incidents = world.graphql(
        "query($id: ID!) { node(id: $id) { ... on AlertRule { incidents { nodes { openedAt closedAt late } } } } }",
        id=_rule_gid(world),
    )["node"]["incidents"]["nodes"]
    assert incidents == [
        {"openedAt": "2025-06-02T10:01:00Z", "closedAt": "2025-06-02T12:00:00Z", "late": True}
    ]

    async def outbox() -> list[dict[str, Any]]:
        async with world.engine.connect() as conn:
            rows = (await conn.execute(select(webhooks.OUTBOX).order_by(webhooks.OUTBOX.c.id))).all()
        assert {int(r.endpoint_id) for r in rows} == {endpoint.id}
        return [json.loads(r.payload) for r in rows]

    events = world.server.run(outbox)
    assert [(e["to"], e["kind"], e["at"], e["late"]) for e in events] == [
        ("WARNING", "open", "2025-06-02T10:01:00Z", True),
        ("OK", "resolve", "2025-06-02T12:00:00Z", True),
    ]
    # Subscribers see the same events, flagged late, at the minute they happened.
    from gql.subscriptions.types import AlertTransitionEvent
    from storage import events as event_log

    logged = world.server.run(lambda: event_log.events_after(world.engine, 0, types=["alert.transition"]))
    seen = [AlertTransitionEvent.of(e) for e in logged]
    assert [(t.late, t.at.isoformat(), t.value) for t in seen] == [
        (True, "2025-06-02T10:01:00+00:00", pytest.approx(93.33, abs=0.01)),
        (True, "2025-06-02T12:00:00+00:00", 100.0),
    ]

    # Re-running adds nothing: the same minute again, and the mark put back (a process
    # killed after the replay's commit, before the mark was deleted).
    assert world.evaluate_at("2025-06-02T12:31") == []

    async def mark_again() -> None:
        async with world.engine.begin() as conn:
            await conn.execute(
                insert(alert_history.ALERT_DIRTY).values(
                    project_id=1, hour=int(found[0].at) // 3600 * 3600, marks=1
                )
            )

    world.server.run(mark_again)
    assert world.evaluate_at("2025-06-02T12:32") == []
    assert _marks(world) == []
    assert (
        len(world.incidents(1)),
        len(world.server.run(outbox)),
        _count(world, alert_history.ALERT_TRANSITION),
    ) == (1, 2, 2)


def test_a_replay_killed_before_its_commit_loses_nothing(world: AlertWorld) -> None:
    """The hook fails inside the replay's transaction (as a process killed there would
    stop it): nothing is recorded and the mark stays; the next pass records it all."""
    _send_late(world)

    async def broken(conn: Any, transition: alerts.Transition) -> None:
        raise RuntimeError("killed")

    task = world.task()
    task.hook = broken
    world.clock.at += 60
    assert world.server.run(lambda: task.run_once()).transitions == []
    assert world.incidents(1) == [] and world.states(1) == {}
    assert _marks(world) == [(1, "10:00")]
    assert brief(world.evaluate_at("2025-06-02T12:31")) == LATE
    assert _marks(world) == []


def test_two_evaluators_record_the_late_transitions_once(world: AlertWorld) -> None:
    _send_late(world)
    world.clock.at += 60
    first, second = world.task(), world.task()

    async def both() -> list[list[alerts.Transition] | None]:
        return [r.transitions for r in await asyncio.gather(first.run_once(), second.run_once())]

    results = world.server.run(both)
    # One of them got the evaluator lock and recorded both; the other skipped the pass.
    assert sorted(r is None for r in results) == [False, True]
    assert brief([t for r in results for t in r or []]) == LATE
    assert len(world.incidents(1)) == 1 and _count(world, alert_history.ALERT_TRANSITION) == 2


def test_the_replay_is_bounded(live_server: Any, database_url: str) -> None:
    """With `alert_late_minutes` 60, only 11:31 .. 12:30 are replayed: their windows
    (10:00 and 11:00 hours from 11:31 to 11:59, then 11:00 alone from 12:00) give 93.3 %
    until 11:59, so the replay starts WARNING at 11:31 (late) and resolves at 12:00."""
    w = AlertWorld(
        live_server, database_url, "2025-06-02T10:00", alert_catchup_minutes=240, alert_late_minutes=60
    )
    w.send("app@1.0", "2025-06-02T09:00", 100)
    w.rule_id(**RULE)
    w.evaluate_at("2025-06-02T10:00")
    for hour in ("10", "11", "12"):
        w.clock.at = w.clock.at if hour == "10" else w.clock.at + 3600
        w.send("app@1.0", f"2025-06-02T{hour}:00", 100)
    w.evaluate_at("2025-06-02T12:30")
    _send_late(w)
    assert brief(w.evaluate_at("2025-06-02T12:31")) == [
        (1, "app@1.0", "11:31", "WARNING", pytest.approx(280 / 3)),
        (1, "app@1.0", "12:00", "OK", 100.0),
    ]
