"""ADOPTION_STAGE alert rules, and adoption-rate rules (ABOVE and BELOW), end to end:
sessions through the real ingest endpoint, rules through `createAlertRule`, the clock
moved minute by minute. SQLite file and PostgreSQL.

Stages (release-health.md 6.2: started sessions in the 6 hours before the instant, 10 %
threshold, evaluated at every hour boundary and at the instant), environment production:

    minute  sent                       app@1.0 share        stage of app@1.0  latest, its stage
    10:01   app@1.0 100 at 09:00       100 / 100            adopted           app@1.0, adopted
    10:02   app@2.0 1000 at 10:00      100 / 1100 = 9.1 %   replaced          app@2.0, adopted (90.9 %)
    10:03   app@1.0 200 at 10:00       300 / 1300 = 23 %    adopted           app@2.0, adopted

Rule "replaced" (version app@1.0, stage REPLACED, stageLevel CRITICAL): OK, CRITICAL at
10:02 (incident opens), OK at 10:03 (it resolves). Rule "adopted" (latest, stage ADOPTED,
stageLevel left out: WARNING): app@1.0 WARNING at 10:01; app@2.0 WARNING at 10:02.
"""

from __future__ import annotations

from typing import Any

import pytest

from resolvers.alerts import Level
from storage import alerts
from tests.alert_world import AlertWorld, brief, hhmm

STAGE = {"environment": "production", "metric": "ADOPTION_STAGE"}


@pytest.fixture
def world(live_server: Any, database_url: str) -> AlertWorld:
    return AlertWorld(live_server, database_url, "2025-06-02T10:00")


def test_a_release_entering_and_leaving_a_stage_opens_and_resolves(world: AlertWorld) -> None:
    fields = "metric stage stageLevel environment warning"
    created = world.create(
        fields,
        name="replaced",
        releases={"version": "app@1.0"},
        stage="REPLACED",
        stageLevel="CRITICAL",
        **STAGE,
    )
    assert created["userErrors"] == []
    assert {k: created["alertRule"][k] for k in fields.split()} == {
        "metric": "ADOPTION_STAGE",
        "stage": "REPLACED",
        "stageLevel": "CRITICAL",
        "environment": "production",
        "warning": None,
    }
    replaced = world.server.run(lambda: alerts.every(world.engine))[0].id
    adopted = world.rule_id(name="adopted", stage="ADOPTED", **STAGE)

    world.send("app@1.0", "2025-06-02T09:00", 100)
    assert brief(world.evaluate_at("2025-06-02T10:01")) == [(adopted, "app@1.0", "10:01", "WARNING", None)]
    world.send("app@2.0", "2025-06-02T10:00", 1000)
    assert brief(world.evaluate_at("2025-06-02T10:02")) == [
        (replaced, "app@1.0", "10:02", "CRITICAL", None),
        (adopted, "app@2.0", "10:02", "WARNING", None),
    ]
    world.send("app@1.0", "2025-06-02T10:00", 200)
    assert brief(world.evaluate_at("2025-06-02T10:03")) == [(replaced, "app@1.0", "10:03", "OK", None)]

    [incident] = world.incidents(replaced)
    assert (incident.level, hhmm(incident.opened_at.timestamp())) == (Level.CRITICAL, "10:02")
    assert incident.closed_at is not None and hhmm(incident.closed_at.timestamp()) == "10:03"
    assert [(i.release, i.level, i.closed_at) for i in world.incidents(adopted)] == [
        ("app@2.0", Level.WARNING, None),
        ("app@1.0", Level.WARNING, None),
    ]


def test_stage_rules_are_validated(world: AlertWorld) -> None:
    bad = world.create(
        name="x",
        metric="ADOPTION_STAGE",
        warning=90,
        minSessions=5,
        stageLevel="OK",
        filter={"dimension": "OS", "value": "iOS"},
    )
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [
        (["input", "stage"], "INVALID"),
        (["input", "stageLevel"], "INVALID"),
        (["input", "environment"], "INVALID"),
        (["input", "filter"], "INVALID"),
        (["input", "warning"], "INVALID"),
        (["input", "minSessions"], "INVALID"),
    ]
    assert bad["alertRule"] is None
    rate = world.create(name="x", metric="CRASH_FREE_SESSIONS", warning=90, stage="ADOPTED")
    assert [e["field"] for e in rate["userErrors"]] == [["input", "stage"]]


def test_adoption_rate_above_and_below(world: AlertWorld) -> None:
    """Adoption (sessions, 24 hours before the minute), production. app@1.0 has 100
    sessions at 09:00; app@2.0 (the latest) gets sessions at 10:00:

        minute  sent               app@2.0 share        app@1.0 share
        10:01   app@2.0 50         50 / 150 = 33.3 %    66.7 %
        10:02   app@2.0 +150       200 / 300 = 66.7 %   33.3 %
        10:03   app@2.0 +300       500 / 600 = 83.3 %   16.7 %
        10:04   app@1.0 +900       500 / 1500 = 33.3 %  66.7 %

    "high" (latest, ABOVE warning 50, critical 80): OK, WARNING (open), CRITICAL
    (escalate), OK (resolve). "low" (app@1.0, BELOW warning 50): OK, WARNING (open),
    WARNING, OK (resolve)."""
    high = world.rule_id(
        name="high", environment="production", metric="ADOPTION", direction="ABOVE", warning=50, critical=80
    )
    low = world.rule_id(
        name="low",
        environment="production",
        metric="ADOPTION",
        direction="BELOW",
        warning=50,
        releases={"version": "app@1.0"},
    )
    world.send("app@1.0", "2025-06-02T09:00", 100)
    seen = []
    for minute, release, sent in (
        ("10:01", "app@2.0", 50),
        ("10:02", "app@2.0", 150),
        ("10:03", "app@2.0", 300),
        ("10:04", "app@1.0", 900),
    ):
        world.send(release, "2025-06-02T10:00", sent)
        seen += brief(world.evaluate_at(f"2025-06-02T{minute}"))
    third, two_thirds = pytest.approx(100 / 3), pytest.approx(200 / 3)
    assert seen == [
        (high, "app@2.0", "10:02", "WARNING", two_thirds),
        (low, "app@1.0", "10:02", "WARNING", third),
        (high, "app@2.0", "10:03", "CRITICAL", pytest.approx(500 / 6)),
        (high, "app@2.0", "10:04", "OK", third),
        (low, "app@1.0", "10:04", "OK", two_thirds),
    ]
