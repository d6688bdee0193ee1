"""Alert rules narrowed to a client dimension (`filter: DimensionFilter`, as health gates
take): only that slice of sessions is counted. Real ingest, SQLite file and PostgreSQL.

The data, worked by hand (project 1, production, app@2.0 the latest release, sessions
started at 12:00, evaluated at 12:01 over the last hour, warning 95, critical 90, at
least 10 sessions):

    slice                     sessions  crashed  crash-free  level
    iOS (browser SDK, UA)     20        4        80 %        CRITICAL (below 90)
    Android (java.android)    80        0        100 %       OK
    every session             100       4        96 %        OK (not below 95)

So of three rules that differ only in their filter, only the iOS one fires.
"""

from __future__ import annotations

from typing import Any

import pytest

from jobs import alert_metrics
from resolvers.alerts import Level
from storage import alerts
from tests.alert_world import SAFARI_IPHONE, AlertWorld, brief, instant

RULE = {
    "name": "latest crash-free",
    "environment": "production",
    "metric": "CRASH_FREE_SESSIONS",
    "window": "LAST_HOUR",
    "warning": 95,
    "critical": 90,
    "minSessions": 10,
}


@pytest.fixture
def world(live_server: Any, database_url: str) -> AlertWorld:
    return AlertWorld(live_server, database_url, "2025-06-02T12:00")


def _numbers(world: AlertWorld, rule_id: int, at: str) -> dict[str, tuple[int, float | None]]:
    """The (sessions, value) the evaluator judges for each release of a rule at `at`."""
    s = world.server.services
    [rule] = [r for r in world.server.run(lambda: alerts.every(s.engine)) if r.id == rule_id]
    found = world.server.run(
        lambda: alert_metrics.rate_numbers(
            s.store, s.query_options, rule, ["app@1.0", "app@2.0"], int(instant(at))
        )
    )
    return {r: (n.sessions, n.value) for r, n in found.items()}


def test_only_the_filtered_slice_fires(world: AlertWorld) -> None:
    ios = world.rule_id(**RULE, filter={"dimension": "OS", "value": "iOS"})
    android = world.rule_id(**RULE, filter={"dimension": "OS", "value": "Android"})
    every = world.rule_id(**RULE)
    world.send(
        "app@2.0", "2025-06-02T12:00", 16, 4, sdk="sentry.javascript.browser", user_agent=SAFARI_IPHONE
    )
    world.send("app@2.0", "2025-06-02T12:00", 80, 0, sdk="sentry.java.android")

    # OK from the start is no transition: only the iOS rule has one.
    assert brief(world.evaluate_at("2025-06-02T12:01")) == [(ios, "app@2.0", "12:01", "CRITICAL", 80.0)]
    assert [(i.level, i.open_value) for i in world.incidents(ios)] == [(Level.CRITICAL, 80.0)]
    assert world.incidents(android) == [] and world.incidents(every) == []
    assert world.states(android) == {} and world.states(every) == {}
    at = "2025-06-02T12:01"
    assert _numbers(world, ios, at)["app@2.0"] == (20, 80.0)
    assert _numbers(world, android, at)["app@2.0"] == (80, 100.0)
    assert _numbers(world, every, at)["app@2.0"] == (100, 96.0)

    # Adoption on the iOS slice: app@1.0 gets 80 Android sessions and 1 iOS session, so
    # overall it has 81 / 181 = 44.8 % of the project's sessions (not below 10), but only
    # 1 of iOS's 21: 4.76 %, below 10.
    world.send("app@1.0", "2025-06-02T12:00", 80, 0, sdk="sentry.java.android")
    world.send("app@1.0", "2025-06-02T12:00", 1, 0, sdk="sentry.javascript.browser", user_agent=SAFARI_IPHONE)
    low = world.rule_id(
        name="app@1.0 adoption on iOS",
        environment="production",
        metric="ADOPTION",
        direction="BELOW",
        releases={"version": "app@1.0"},
        warning=10,
        filter={"dimension": "OS", "value": "iOS"},
    )
    overall = world.rule_id(
        name="app@1.0 adoption",
        environment="production",
        metric="ADOPTION",
        direction="BELOW",
        releases={"version": "app@1.0"},
        warning=10,
    )
    found = brief(world.evaluate_at("2025-06-02T12:02"))
    assert found == [(low, "app@1.0", "12:02", "WARNING", pytest.approx(100 / 21))]
    assert _numbers(world, overall, "2025-06-02T12:02")["app@1.0"] == (81, pytest.approx(100 * 81 / 181))


def test_the_filter_through_the_api(world: AlertWorld) -> None:
    fields = "filter { dimension value }"
    created = world.create(fields, **RULE, filter={"dimension": "SDK", "value": "sentry.cocoa"})
    assert created["userErrors"] == []
    assert created["alertRule"]["filter"] == {"dimension": "SDK", "value": "sentry.cocoa"}
    assert world.create(fields, **RULE)["alertRule"]["filter"] is None

    for value in ("", "x" * 257):
        bad = world.create(fields, **RULE, filter={"dimension": "OS", "value": value})
        assert bad["alertRule"] is None
        assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [
            (["input", "filter", "value"], "INVALID")
        ]
