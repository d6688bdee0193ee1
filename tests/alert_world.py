"""A live server for the alert tests of late data, dimension filters and adoption stages:
sessions sent through the real ingest endpoint (any SDK, user agent, environment and
start), rules created through API v2's `createAlertRule`, and `AlertTask` passes at a
clock the test moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from jobs.alerts import AlertTask
from server.clock import FixedClock
from server.settings import Settings
from storage import alerts

SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Mobile/15E148 Safari/604.1"
)
CREATE = (
    "mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) {"
    " alertRule { id %s } userErrors { field message code } } }"
)


def instant(text: str) -> float:
    """`2025-06-02T12:30` -> unix seconds (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def hhmm(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M")


class AlertWorld:
    def __init__(self, live_server: Any, database_url: str, start: str, **settings: Any) -> None:
        self.clock = FixedClock(instant(start))
        self.server = live_server(
            Settings(database_url=database_url, alert_interval_seconds=0, **settings), self.clock
        )
        accounts = self.server.services.accounts
        _, self.key = self.server.run(lambda: accounts.create_project("acme", "mobile", 1))
        self.token = self.server.run(lambda: accounts.create_token("acme", ["org:write"]))

    @property
    def engine(self) -> Any:
        return self.server.services.engine

    def send(
        self,
        release: str,
        started: str,
        exited: int,
        crashed: int = 0,
        *,
        sdk: str = "sentry.cocoa",
        user_agent: str | None = None,
        environment: str = "production",
    ) -> None:
        """One `sessions` item: `exited` healthy and `crashed` crashed sessions started at
        `started` (`2025-06-02T12:00`)."""
        header = {"sdk": {"name": sdk, "version": "8.0.0"}}
        bucket = {"started": started + ":00Z", "exited": exited, "crashed": crashed}
        attrs: dict[str, str] = {"release": release, "environment": environment}
        if user_agent is not None:
            attrs["user_agent"] = user_agent
        item = {"aggregates": [bucket], "attrs": attrs}
        body = f"{json.dumps(header)}\n{json.dumps({'type': 'sessions'})}\n{json.dumps(item)}\n"
        r = httpx.post(
            f"{self.server.url}/api/1/envelope/",
            content=body.encode(),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={self.key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        r = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def create(self, fields: str = "", **rule: Any) -> dict[str, Any]:
        """`createAlertRule` for project 1; the payload (`alertRule`, `userErrors`)."""
        return self.graphql(CREATE % fields, input={"project": "1", **rule})["createAlertRule"]  # type: ignore[no-any-return]

    def rule_id(self, **rule: Any) -> int:
        payload = self.create(**rule)
        assert payload["userErrors"] == [], payload
        found = self.server.run(lambda: alerts.every(self.engine))
        return int(found[-1].id)

    def task(self) -> AlertTask:
        """A new evaluator, as the server's own (`Services.alert_task`)."""
        return self.server.services.alert_task()  # type: ignore[no-any-return]

    def evaluate_at(self, at: str) -> list[alerts.Transition]:
        """Move the clock to `at` and run one pass; its transitions."""
        self.clock.at = instant(at)
        task = self.task()
        found = self.server.run(lambda: task.run_once()).transitions
        assert found is not None
        return found  # type: ignore[no-any-return]

    def incidents(self, rule_id: int) -> list[alerts.Incident]:
        return self.server.run(lambda: alerts.incidents(self.engine, [rule_id]))[rule_id]  # type: ignore[no-any-return]

    def states(self, rule_id: int) -> dict[str, alerts.State]:
        return self.server.run(lambda: alerts.states(self.engine, rule_id))  # type: ignore[no-any-return]


def brief(transitions: list[alerts.Transition]) -> list[tuple[int, str, str, str, float | None]]:
    """(rule, release, minute, new level, value) of each transition."""
    return [(t.rule.id, t.release, hhmm(t.at), t.after.name, t.value) for t in transitions]
