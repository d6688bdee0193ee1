"""Alert rules through API v2: the mutations (org:write, userErrors), `Project.alertRules`,
`node`, and the incidents of a bad release read back through `AlertRule.incidents` after
`relhealth alerts evaluate` ran each minute. SQLite file and PostgreSQL.

The numbers (worked by hand): app@2.0, 50 sessions started at 12:00 of which 5 crashed
(90 %) at 12:01 -> below warning 95: WARNING, incident opened at 90; 150 more healthy
sessions by 12:02 -> 195 / 200 = 97.5 %, not below the resolve threshold 97: OK, closed
at 97.5.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cli.main import main
from server.clock import FixedClock
from server.settings import Settings

NOON = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()
FIELDS = """id name environment metric direction window warning critical warningResolve
  criticalResolve minSessions minUsers enabled releases { kind createdWithinHours version }"""
CREATE = (
    "mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) {"
    " alertRule { %s } userErrors { field message code } } }" % FIELDS
)
UPDATE = (
    "mutation($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) {"
    " alertRule { %s } userErrors { field message code } } }" % FIELDS
)
DELETE = "mutation($id: ID!) { deleteAlertRule(id: $id) { deletedAlertRuleId userErrors { field code } } }"
INCIDENTS = """query($id: ID!) { node(id: $id) { ... on AlertRule {
  evaluatedThrough states { release { version } level value since }
  incidents(first: 10) { totalCount nodes {
    level openedAt openValue escalatedAt closedAt closeValue release { version } } } } } }"""
RULES = """{ project(id: "1") { alertRules(first: 10) { totalCount nodes { id name } } } }"""


class Api:
    def __init__(self, server: Any, key: str, write: str, read: str) -> None:
        self.server, self.key, self.write, self.read = server, key, write, read

    def post(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        r = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.write}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(query, **variables)
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def send(self, exited: int, crashed: int) -> None:
        header = {"sdk": {"name": "sentry.cocoa", "version": "8.0.0"}}
        bucket = {"started": "2025-06-02T12:00:00Z", "exited": exited, "crashed": crashed}
        item = {"aggregates": [bucket], "attrs": {"release": "app@2.0", "environment": "production"}}
        body = f"{json.dumps(header)}\n{json.dumps({'type': 'sessions'})}\n{json.dumps(item)}\n"
        r = httpx.post(
            f"{self.server.url}/api/1/envelope/",
            content=body.encode(),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={self.key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def api(live_server: Any, database_url: str) -> Api:
    server = live_server(Settings(database_url=database_url, alert_interval_seconds=0), FixedClock(NOON))
    accounts = server.services.accounts
    _, key = server.run(lambda: accounts.create_project("acme", "mobile", 1))
    write = server.run(lambda: accounts.create_token("acme", ["org:write"]))
    read = server.run(lambda: accounts.create_token("acme", ["org:read"]))
    return Api(server, key, write, read)


RULE = {
    "project": "1",
    "name": "crash-free of the latest release",
    "environment": "production",
    "metric": "CRASH_FREE_SESSIONS",
    "window": "LAST_HOUR",
    "warning": 95,
    "warningResolve": 97,
    "minSessions": 20,
}


def test_a_rule_through_the_api_and_its_incident(
    api: Api, database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = api.data(CREATE, input=RULE)["createAlertRule"]
    assert payload["userErrors"] == []
    rule = payload["alertRule"]
    assert rule["releases"] == {"kind": "LATEST", "createdWithinHours": None, "version": None}
    assert (rule["direction"], rule["critical"], rule["enabled"]) == ("BELOW", None, True)
    assert api.data(RULES)["project"]["alertRules"]["totalCount"] == 1

    api.send(45, 5)
    monkeypatch.setenv("RELHEALTH_DATABASE_URL", database_url)
    assert main(["alerts", "evaluate", "--at", "2025-06-02T12:01:00Z"]) == 0
    assert "rule 1\tapp@2.0\tOK -> WARNING\topen\t90" in capsys.readouterr().out
    api.send(150, 0)
    assert main(["alerts", "evaluate", "--at", "2025-06-02T12:02:00Z"]) == 0
    assert "WARNING -> OK\tresolve\t97.5" in capsys.readouterr().out
    # Evaluating the same minute again adds nothing.
    assert main(["alerts", "evaluate", "--at", "2025-06-02T12:02:00Z"]) == 0
    assert capsys.readouterr().out.strip() == "0 transitions, 0 minutes skipped"

    node = api.data(INCIDENTS, id=rule["id"])["node"]
    assert node["evaluatedThrough"] == "2025-06-02T12:02:00Z"
    assert node["states"] == [
        {"release": {"version": "app@2.0"}, "level": "OK", "value": 97.5, "since": "2025-06-02T12:02:00Z"}
    ]
    assert node["incidents"] == {
        "totalCount": 1,
        "nodes": [
            {
                "level": "WARNING",
                "openedAt": "2025-06-02T12:01:00Z",
                "openValue": 90.0,
                "escalatedAt": None,
                "closedAt": "2025-06-02T12:02:00Z",
                "closeValue": 97.5,
                "release": {"version": "app@2.0"},
            }
        ],
    }

    assert main(["alerts", "list", "--project", "1"]) == 0
    listed = capsys.readouterr().out
    assert "crash_free_sessions below warning=95.0 critical=None\tlatest\t{'app@2.0': 'OK'}" in listed

    deleted = api.data(DELETE, id=rule["id"])["deleteAlertRule"]
    assert deleted == {"deletedAlertRuleId": rule["id"], "userErrors": []}
    assert api.data(INCIDENTS, id=rule["id"])["node"] is None
    assert api.data(DELETE, id=rule["id"])["deleteAlertRule"]["userErrors"] == [
        {"field": ["id"], "code": "NOT_FOUND"}
    ]


def test_invalid_input_comes_back_as_user_errors(api: Api) -> None:
    bad = {
        **RULE,
        "warning": 90,
        "critical": 95,
        "warningResolve": 80,
        "minSessions": -1,
        "releases": {"latest": True, "version": "app@2.0"},
    }
    errors = api.data(CREATE, input=bad)["createAlertRule"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "releases"], "INVALID"),
        (["input", "critical"], "INVALID"),
        (["input", "warningResolve"], "INVALID"),
        (["input", "minSessions"], "INVALID"),
    ]
    none = {k: v for k, v in RULE.items() if k not in ("warning", "warningResolve")}
    errors = api.data(CREATE, input=none)["createAlertRule"]["userErrors"]
    assert errors == [
        {
            "field": ["input", "critical"],
            "message": "Set a critical or a warning threshold (or both).",
            "code": "INVALID",
        }
    ]
    assert (
        api.data(CREATE, input={**RULE, "project": "99"})["createAlertRule"]["userErrors"][0]["code"]
        == "NOT_FOUND"
    )


def test_update_and_the_org_write_scope(api: Api) -> None:
    rule = api.data(CREATE, input=RULE)["createAlertRule"]["alertRule"]
    changed = {
        "name": "new releases",
        "metric": "ADOPTION",
        "direction": "ABOVE",
        "critical": 80,
        "releases": {"createdWithinHours": 6},
    }
    updated = api.data(UPDATE, id=rule["id"], input=changed)["updateAlertRule"]
    assert updated["userErrors"] == []
    got = updated["alertRule"]
    assert (got["metric"], got["direction"], got["critical"], got["warning"]) == (
        "ADOPTION",
        "ABOVE",
        80.0,
        None,
    )
    assert got["releases"] == {"kind": "CREATED_WITHIN_HOURS", "createdWithinHours": 6, "version": None}

    body = api.post(CREATE, token=api.read, input=RULE)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.data(RULES)["project"]["alertRules"]["totalCount"] == 1
