"""The real client: graphql-ws (npm, over `ws`) against a live relhealth, on a SQLite file
and on PostgreSQL. Alert transitions happen for real (sessions through the ingest endpoint,
the clock moved minute by minute, `AlertTask.run_once`: the walk of
tests/test_alerts_evaluation.py, worked by hand there); gate-verdict and adoption-stage
events are published into the event log in a transaction, as their producers do.

Expected, by construction:
- acme's client gets the four transitions of app@2.0 (12:03 OK->WARNING open 92, 12:04
  WARNING->CRITICAL escalate 88, 12:05 CRITICAL->WARNING deescalate 94, 12:07 WARNING->OK
  resolve 97), its one gate event and its one production adoption event (the staging one
  is filtered out by `environment`), each once, in order, and nothing of org `other`;
- `other`'s client gets only its own gate event, and is refused acme's project;
- a bad token is closed 4403; resubscribing with `after` replays what was missed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from gql.core.ids import global_id
from server.clock import FixedClock
from server.settings import Settings
from storage import events
from tests.conftest import _truncate_postgres
from tests.subscription_client import NodeClient
from tests.test_alerts_evaluation import NOON, RULE, STEPS, World, _minute

pytestmark = pytest.mark.slow

ALERTS = """subscription($projects: [ID!], $after: ID) {
  alertTransitions(projects: $projects, after: $after) {
    id at release { version } environment ruleName from to kind value } }"""
GATES = """subscription($projects: [ID!], $after: ID) {
  gateVerdictChanges(projects: $projects, after: $after) {
    id at release { version } environment from to rule sessions crashFreeSessionRate } }"""
ADOPTION = """subscription($project: ID!, $environment: String, $after: ID) {
  adoptionStageChanges(project: $project, environment: $environment, after: $after) {
    id at release { version project { slug } } environment from to sessionAdoption } }"""


def _iso(minute: int) -> str:
    return datetime.fromtimestamp(_minute(minute), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def publish(server: Any, org: int, project: int, kind: str, key: str, payload: dict[str, Any]) -> int:
    async def go() -> int | None:
        async with server.services.engine.begin() as conn:
            return await events.publish(
                conn,
                org_id=org,
                project_id=project,
                event_type=kind,
                event_key=key,
                payload=payload,
                at=server.services.clock.now(),
            )

    new_id = server.run(go)
    assert new_id is not None
    return int(new_id)


def gate_payload(release: str, before: str | None, after: str, sessions: int) -> dict[str, Any]:
    return {
        "gate": {"id": 7, "environment": "production"},
        "projectId": 1,
        "environment": "production",
        "release": release,
        "from": before,
        "to": after,
        "at": "2025-06-02T12:07:00Z",
        "numbers": {
            "sessions": sessions,
            "users": 0,
            "crashFreeSessionRate": 97.0,
            "crashFreeUserRate": None,
            "adoption": None,
        },
        "rule": f"{after.lower()} rule",
    }


def adoption_payload(environment: str) -> dict[str, Any]:
    return {
        "projectId": 1,
        "environment": environment,
        "release": "app@2.0",
        "from": "LOW_ADOPTION",
        "to": "ADOPTED",
        "at": "2025-06-02T12:07:00Z",
        "adoption": {"sessionRate": 80.0, "userRate": None},
    }


def wait_open(server: Any, token: str, n: int) -> None:
    """Until `n` subscriptions of `token` are registered with the broadcaster."""
    deadline = time.monotonic() + 60
    while server.services.subscriptions.open[_key(token)] != n:
        assert time.monotonic() < deadline, dict(server.services.subscriptions.open)
        time.sleep(0.05)


@pytest.fixture
def world(live_server: Any, database_url: str) -> tuple[World, str, str]:
    clock = FixedClock(NOON)
    settings = Settings(database_url=database_url, alert_interval_seconds=0, subscription_poll_seconds=0.2)
    server = live_server(settings, clock)
    accounts = server.services.accounts
    _, key = server.run(lambda: accounts.create_project("acme", "mobile", 1))
    server.run(lambda: accounts.create_project("other", "site", 2))
    acme = server.run(lambda: accounts.create_token("acme", ["org:read"]))
    other = server.run(lambda: accounts.create_token("other", ["org:read"]))
    w = World(server, key, clock)
    w.send("app@1.0", "2025-06-02T11:00:00Z", 100, 0)
    return w, acme, other


def test_the_graphql_ws_client_gets_each_event_once_in_order(world: tuple[World, str, str]) -> None:
    w, acme, other = world
    server = w.server
    w.rule()
    mine = NodeClient(
        server.url,
        acme,
        [
            {"name": "alerts", "query": ALERTS, "variables": {"projects": ["1"]}},
            {"name": "gates", "query": GATES, "variables": {}},
            {
                "name": "adoption",
                "query": ADOPTION,
                "variables": {"project": "1", "environment": "production"},
            },
        ],
    )
    theirs = NodeClient(
        server.url,
        other,
        [
            {"name": "alerts", "query": ALERTS, "variables": {}},
            {"name": "gates", "query": GATES, "variables": {}},
            {"name": "adoption", "query": ADOPTION, "variables": {"project": "2"}},
            {"name": "acme", "query": ALERTS, "variables": {"projects": ["1"]}},
        ],
    )
    try:
        wait_open(server, acme, 3)
        refused = theirs.wait_for(lambda lines: any(x["event"] == "error" for x in lines))
        [error] = [x for x in refused if x["event"] == "error"]
        assert error["sub"] == "acme" and error["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        wait_open(server, other, 3)

        for n, (sent, crashed) in enumerate(STEPS, start=1):
            w.send("app@2.0", "2025-06-02T12:00:00Z", sent - crashed, crashed)
            w.clock.at = _minute(n)
            w.evaluate()
        publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "g1", gate_payload("app@2.0", None, "PASS", 400))
        # The evaluator's own change detector published the production adoption stages
        # (below); a staging one is filtered out of the production subscription.
        publish(server, 1, 1, events.ADOPTION_STAGE_CHANGED, "a-staging", adoption_payload("staging"))
        publish(
            server, 2, 2, events.GATE_VERDICT_CHANGED, "g-other", gate_payload("site@1", "PASS", "FAIL", 3)
        )

        mine.wait_for(
            lambda _: (mine.count("alerts"), mine.count("gates"), mine.count("adoption")) == (4, 1, 2)
        )
        theirs.wait_for(lambda _: theirs.count("gates") == 1)
        # Markers on every subscription, committed last: once they arrived, anything sent
        # twice (or to the wrong organization) would have arrived before them.
        marker = {"release": "app@9.9", "from": "OK", "to": "OK", "kind": "state", "value": None}
        publish(server, 1, 1, events.ALERT_TRANSITION, "m1", {**marker, "rule": {"id": 1, "name": "m"}})
        publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "m2", gate_payload("app@9.9", "PASS", "PASS", 0))
        publish(
            server,
            1,
            1,
            events.ADOPTION_STAGE_CHANGED,
            "m3",
            {**adoption_payload("production"), "release": "app@9.9"},
        )
        publish(server, 2, 2, events.ALERT_TRANSITION, "m4", {**marker, "rule": {"id": 2, "name": "m"}})
        publish(server, 2, 2, events.GATE_VERDICT_CHANGED, "m5", gate_payload("app@9.9", "PASS", "PASS", 0))
        publish(
            server,
            2,
            2,
            events.ADOPTION_STAGE_CHANGED,
            "m6",
            {**adoption_payload("production"), "release": "app@9.9"},
        )
        mine.wait_for(
            lambda _: all(
                mine.received(s)[-1:] and _is_marker(mine.received(s)[-1])
                for s in ("alerts", "gates", "adoption")
            )
        )
        theirs.wait_for(
            lambda _: all(
                theirs.received(s)[-1:] and _is_marker(theirs.received(s)[-1])
                for s in ("alerts", "gates", "adoption")
            )
        )
    finally:
        mine.close()
        theirs.close()

    alerts = [a["alertTransitions"] for a in mine.received("alerts")]
    assert [
        (a["at"], a["release"]["version"], a["environment"], a["from"], a["to"], a["kind"], a["value"])
        for a in alerts[:-1]
    ] == [
        (_iso(3), "app@2.0", "production", "OK", "WARNING", "OPEN", 92.0),
        (_iso(4), "app@2.0", "production", "WARNING", "CRITICAL", "ESCALATE", 88.0),
        (_iso(5), "app@2.0", "production", "CRITICAL", "WARNING", "DEESCALATE", 94.0),
        (_iso(7), "app@2.0", "production", "WARNING", "OK", "RESOLVE", 97.0),
    ]
    assert {a["ruleName"] for a in alerts[:-1]} == {RULE.name}
    gates = [g["gateVerdictChanges"] for g in mine.received("gates")]
    assert [
        (g["release"]["version"], g["from"], g["to"], g["rule"], g["sessions"], g["crashFreeSessionRate"])
        for g in gates
    ] == [
        ("app@2.0", None, "PASS", "pass rule", 400, 97.0),
        ("app@9.9", "PASS", "PASS", "pass rule", 0, 97.0),
    ]
    adoption = [a["adoptionStageChanges"] for a in mine.received("adoption")]
    assert [
        (a["release"]["version"], a["environment"], a["from"], a["to"], a["sessionAdoption"])
        for a in adoption
    ] == [
        # The detector's real events at 12:01 (release-health.md 6): app@1.0's 100
        # sessions at 11:00 and app@2.0's 20 at 12:00 are 100/120 and 20/120 of the
        # last 24 h, both over the 10 % adoption threshold.
        ("app@1.0", "production", None, "ADOPTED", pytest.approx(100 / 120 * 100)),
        ("app@2.0", "production", None, "ADOPTED", pytest.approx(20 / 120 * 100)),
        ("app@9.9", "production", "LOW_ADOPTION", "ADOPTED", 80.0),
    ]
    assert adoption[0]["release"]["project"]["slug"] == "mobile"
    ids = [e["id"] for e in alerts + gates + adoption]
    assert len(set(ids)) == len(ids)
    # `other` saw its own events only: the markers, and its gate event before its marker.
    assert [g["gateVerdictChanges"]["release"]["version"] for g in theirs.received("gates")] == [
        "site@1",
        "app@9.9",
    ]
    assert [len(theirs.received(s)) for s in ("alerts", "adoption")] == [1, 1]


def _is_marker(data: dict[str, Any]) -> bool:
    [event] = data.values()
    return bool(event["release"]["version"] == "app@9.9")


def test_a_bad_token_is_closed_4403(world: tuple[World, str, str]) -> None:
    w, _, _ = world
    client = NodeClient(w.server.url, "not-a-token", [{"name": "alerts", "query": ALERTS, "variables": {}}])
    try:
        lines = client.wait_for(lambda lines: any(x["event"] == "closed" for x in lines))
    finally:
        client.close()
    [closed] = [x for x in lines if x["event"] == "closed"]
    assert (closed["code"], closed["reason"]) == (4403, "Forbidden")
    assert not any(x["event"] == "next" for x in lines)


def test_resuming_with_after_replays_what_was_missed(world: tuple[World, str, str]) -> None:
    """g1 is seen live; g2 and g3 are committed while nobody listens; a client resuming
    after g1 gets g2, g3 (replayed), then g4 (live), once each."""
    w, acme, _ = world
    server = w.server
    first = NodeClient(server.url, acme, [{"name": "gates", "query": GATES, "variables": {}}])
    try:
        wait_open(server, acme, 1)
        g1 = publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "g1", gate_payload("app@1", None, "PASS", 1))
        first.wait_for(lambda _: first.count("gates") == 1)
    finally:
        first.close()
    wait_open(server, acme, 0)
    [seen] = first.received("gates")
    assert seen["gateVerdictChanges"]["id"] == global_id("HealthEvent", g1)
    publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "g2", gate_payload("app@2", None, "WARN", 2))
    publish(server, 2, 2, events.GATE_VERDICT_CHANGED, "g-other", gate_payload("site@1", None, "FAIL", 9))
    publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "g3", gate_payload("app@3", None, "FAIL", 3))
    after = seen["gateVerdictChanges"]["id"]
    resumed = NodeClient(server.url, acme, [{"name": "gates", "query": GATES, "variables": {"after": after}}])
    try:
        resumed.wait_for(lambda _: resumed.count("gates") == 2)
        wait_open(server, acme, 1)
        publish(server, 1, 1, events.GATE_VERDICT_CHANGED, "g4", gate_payload("app@4", None, "PASS", 4))
        resumed.wait_for(lambda _: resumed.count("gates") == 3)
    finally:
        resumed.close()
    versions = [g["gateVerdictChanges"]["release"]["version"] for g in resumed.received("gates")]
    assert versions == ["app@2", "app@3", "app@4"]


@pytest.mark.postgres
def test_a_subscriber_on_one_server_hears_another_process_evaluate(
    live_server: Any, postgres_database: str
) -> None:
    """Two processes on one PostgreSQL database: `relhealth alerts evaluate` (a process of
    its own) commits the transition; the subscriber on the server hears it through NOTIFY
    (the server's safety-net poll is an hour, so nothing else would wake it)."""
    asyncio.run(_truncate_postgres(postgres_database))
    clock = FixedClock(NOON)
    settings = Settings(
        database_url=postgres_database, alert_interval_seconds=0, subscription_notify_poll_seconds=3600
    )
    server = live_server(settings, clock)
    accounts = server.services.accounts
    _, key = server.run(lambda: accounts.create_project("acme", "mobile", 1))
    token = server.run(lambda: accounts.create_token("acme", ["org:read"]))
    w = World(server, key, clock)
    w.send("app@1.0", "2025-06-02T11:00:00Z", 100, 0)
    w.rule()
    client = NodeClient(server.url, token, [{"name": "alerts", "query": ALERTS, "variables": {}}])
    try:
        wait_open(server, token, 1)
        # 50 sessions, 10 crashed: 80 % crash-free, below critical 90 at 12:01.
        w.send("app@2.0", "2025-06-02T12:00:00Z", 40, 10)
        env = {**os.environ, "RELHEALTH_DATABASE_URL": postgres_database}
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", "alerts", "evaluate", "--at", _iso(1)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        client.wait_for(lambda _: client.count("alerts") == 1)
    finally:
        client.close()
    [event] = [e["alertTransitions"] for e in client.received("alerts")]
    assert (event["at"], event["from"], event["to"], event["kind"], event["value"]) == (
        _iso(1),
        "OK",
        "CRITICAL",
        "OPEN",
        80.0,
    )
