"""Health gates end to end: sessions sent through the real ingest endpoint of a live server
(the clock pinned and then moved), gates managed through API v2's mutations, every verdict
read through `ReleaseHealth.gate`, and `relhealth gate` over real HTTP with its exit codes.

The data, worked by hand (project 1, environment production, every session started at
11:00 on 2025-06-02, the server's clock at 12:00):

    release  SDK                  users  sessions  crashed  crashed users
    app@2.0  sentry.cocoa         5      50        1        1 (i1)
    app@2.0  sentry.java.android  5      50        3        1 (a1)
    app@1.0  sentry.cocoa         3      100       0        0

    app@2.0: 100 sessions, 4 crashed  -> crash-free sessions 96 %
             10 users, 2 crashed      -> crash-free users 80 %
             100 of the project's 200 sessions in 24 h -> adoption 50 %
    app@2.0 on sentry.java.android: 47 / 50 -> 94 %; users 4 / 5 -> 80 %
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cli.main import main
from server.clock import FixedClock, SystemClock
from server.settings import Settings

CLOCK = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()
STARTED = "2025-06-02T11:00:00Z"


def _envelope(sdk: str, release: str, buckets: list[dict[str, Any]]) -> bytes:
    header = {"sdk": {"name": sdk, "version": "8.0.0"}}
    item = {"aggregates": buckets, "attrs": {"release": release, "environment": "production"}}
    return f"{json.dumps(header)}\n{json.dumps({'type': 'sessions'})}\n{json.dumps(item)}\n".encode()


def _users(prefix: str, crashed: dict[str, int], per_user: int = 10, n: int = 5) -> list[dict[str, Any]]:
    out = []
    for i in range(1, n + 1):
        did = f"{prefix}{i}"
        c = crashed.get(did, 0)
        out.append({"started": STARTED, "did": did, "exited": per_user - c, "crashed": c})
    return out


SENT = [
    ("sentry.cocoa", "app@2.0", _users("i", {"i1": 1})),
    ("sentry.java.android", "app@2.0", _users("a", {"a1": 3})),
    (
        "sentry.cocoa",
        "app@1.0",
        [
            {"started": STARTED, "did": "o1", "exited": 40},
            {"started": STARTED, "did": "o2", "exited": 30},
            {"started": STARTED, "did": "o3", "exited": 30},
        ],
    ),
]

EVALUATION = """
  verdict rule decidedBy { metric value target critical outcome }
  checks { metric value target critical minimum outcome }
  scope { start end environments at }
  sessions users crashFreeSessionRate crashFreeUserRate adoption
  gate { id environment window }
"""
GATE = (
    """query($env: String) { release(project: "1", version: "app@2.0") {
  health(scope: {window: {period: LAST_HOUR}}) { gate(environment: $env) { %s } } } }"""
    % EVALUATION
)
FIELDS = "id environment window crashFreeSessionsTarget crashFreeSessionsCritical minSessions minUsers dimension { dimension value }"
CREATE = (
    "mutation($input: CreateHealthGateInput!) { createHealthGate(input: $input) {"
    " healthGate { %s } userErrors { field message code } } }" % FIELDS
)
UPDATE = (
    "mutation($id: ID!, $input: HealthGateInput!) { updateHealthGate(id: $id, input: $input) {"
    " healthGate { %s } userErrors { field message code } } }" % FIELDS
)
DELETE = "mutation($id: ID!) { deleteHealthGate(id: $id) { deletedHealthGateId userErrors { field code } } }"


class Api:
    def __init__(self, server: Any, write: str, read: str) -> None:
        self.server, self.write, self.read = server, write, read

    def post(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        r = httpx.post(
            f"{self.server.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.write}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(query, **variables)
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def verdict(self, env: str | None = "production") -> dict[str, Any]:
        return self.data(GATE, env=env)["release"]["health"]["gate"]  # type: ignore[no-any-return]


@pytest.fixture
def api(live_server: Any, database_url: str) -> Api:
    clock = FixedClock(CLOCK)
    server = live_server(Settings(database_url=database_url), clock)
    accounts = server.services.accounts
    _, key = server.run(lambda: accounts.create_project("acme", "mobile", 1))
    write = server.run(lambda: accounts.create_token("acme", ["org:write"]))
    read = server.run(lambda: accounts.create_token("acme", ["org:read"]))
    for sdk, release, buckets in SENT:
        r = httpx.post(
            f"{server.url}/api/1/envelope/",
            content=_envelope(sdk, release, buckets),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    server.clock = clock
    return Api(server, write, read)


def _create(api: Api, **input: Any) -> dict[str, Any]:
    payload = api.data(CREATE, input={"project": "1", **input})["createHealthGate"]
    assert payload["userErrors"] == [], payload
    return payload["healthGate"]  # type: ignore[no-any-return]


def test_every_verdict_through_the_api(api: Api) -> None:
    gate = _create(
        api,
        environment="production",
        crashFreeSessionsTarget=99,
        crashFreeSessionsCritical=95,
        crashFreeUsersTarget=75,
        adoptionTarget=30,
        adoptionCritical=10,
        minSessions=50,
        minUsers=5,
    )
    v = api.verdict()
    assert v["verdict"] == "WARN"
    assert v["rule"] == "crash-free sessions 96 % is below the target 99 %"
    assert (v["sessions"], v["users"], v["crashFreeSessionRate"], v["crashFreeUserRate"], v["adoption"]) == (
        100,
        10,
        96.0,
        80.0,
        50.0,
    )
    assert [(c["metric"], c["value"], c["outcome"]) for c in v["checks"]] == [
        ("SESSIONS", 100.0, "PASS"),
        ("USERS", 10.0, "PASS"),
        ("CRASH_FREE_SESSIONS", 96.0, "WARN"),
        ("CRASH_FREE_USERS", 80.0, "PASS"),
        ("ADOPTION", 50.0, "PASS"),
    ]
    assert v["scope"]["environments"] == ["production"] and v["scope"]["at"] == "2025-06-02T12:00:00Z"
    assert v["gate"]["id"] == gate["id"]

    rules = {"environment": "production", "crashFreeSessionsTarget": 99, "minSessions": 50, "minUsers": 5}
    api.data(UPDATE, id=gate["id"], input={**rules, "crashFreeSessionsCritical": 97})
    v = api.verdict()
    assert (v["verdict"], v["rule"]) == ("FAIL", "crash-free sessions 96 % is below the critical level 97 %")
    assert v["decidedBy"] == {
        "metric": "CRASH_FREE_SESSIONS",
        "value": 96.0,
        "target": 99.0,
        "critical": 97.0,
        "outcome": "FAIL",
    }

    api.data(UPDATE, id=gate["id"], input={**rules, "crashFreeSessionsCritical": 97, "minSessions": 101})
    v = api.verdict()
    assert (v["verdict"], v["rule"]) == ("INSUFFICIENT_DATA", "sessions 100 is below the minimum 101")

    api.data(UPDATE, id=gate["id"], input={**rules, "crashFreeSessionsTarget": 96})
    v = api.verdict()
    assert (v["verdict"], v["rule"], v["decidedBy"]) == ("PASS", "every level is met", None)

    # The clock moves on 24 hours: the sessions (11:00) leave the 24-hour window.
    api.server.clock.at = CLOCK + 24 * 3600
    v = api.verdict()
    assert (v["verdict"], v["sessions"]) == ("INSUFFICIENT_DATA", 0)
    assert v["rule"] == "sessions 0 is below the minimum 50"
    # ...but not a 48-hour window.
    api.data(
        UPDATE, id=gate["id"], input={**rules, "window": "LAST_48_HOURS", "crashFreeSessionsCritical": 97}
    )
    assert api.verdict()["verdict"] == "FAIL"


def test_all_environments_gate_narrowed_to_a_dimension(api: Api) -> None:
    gate = _create(
        api,
        dimension={"dimension": "SDK", "value": "sentry.java.android"},
        crashFreeSessionsTarget=99,
        crashFreeSessionsCritical=95,
    )
    assert gate["dimension"] == {"dimension": "SDK", "value": "sentry.java.android"}
    for env in (None, "production"):  # the all-environments gate applies to production too
        v = api.verdict(env)
        assert (v["sessions"], v["users"], v["crashFreeSessionRate"], v["crashFreeUserRate"]) == (
            50,
            5,
            94.0,
            80.0,
        )
        assert (v["verdict"], v["rule"]) == (
            "FAIL",
            "crash-free sessions 94 % is below the critical level 95 %",
        )
    # No gate for the project at all: null.
    api.data(DELETE, id=gate["id"])
    assert api.verdict() is None


def test_mutations_need_org_write_and_report_user_errors(api: Api) -> None:
    body = api.post(CREATE, token=api.read, input={"project": "1"})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN" and body["data"] is None

    refused = api.data(
        CREATE, input={"project": "1", "crashFreeSessionsTarget": 98, "crashFreeSessionsCritical": 99}
    )["createHealthGate"]
    assert refused["healthGate"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "crashFreeSessionsCritical"], "INVALID")
    ]
    missing = api.data(CREATE, input={"project": "99"})["createHealthGate"]
    assert [(e["field"], e["code"]) for e in missing["userErrors"]] == [(["input", "project"], "NOT_FOUND")]

    gate = _create(api, environment="production")
    taken = api.data(CREATE, input={"project": "1", "environment": "production"})["createHealthGate"]
    assert [e["code"] for e in taken["userErrors"]] == ["TAKEN"]

    # The gate is a Node, and listed on its project.
    node = api.data(
        "query($id: ID!) { node(id: $id) { id ... on HealthGate { environment project { projectId } } } }",
        id=gate["id"],
    )
    assert node["node"] == {"id": gate["id"], "environment": "production", "project": {"projectId": "1"}}
    listed = api.data('{ project(id: "1") { healthGates { totalCount nodes { id } } } }')
    assert listed["project"]["healthGates"] == {"totalCount": 1, "nodes": [{"id": gate["id"]}]}

    deleted = api.data(DELETE, id=gate["id"])["deleteHealthGate"]
    assert deleted == {"deletedHealthGateId": gate["id"], "userErrors": []}
    again = api.data(DELETE, id=gate["id"])["deleteHealthGate"]
    assert again["userErrors"] == [{"field": ["id"], "code": "NOT_FOUND"}]
    assert api.data("query($id: ID!) { node(id: $id) { id } }", id=gate["id"])["node"] is None


def test_cli_exit_codes_over_http(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = _create(api, environment="production", crashFreeSessionsTarget=99, crashFreeSessionsCritical=95)
    remote = ["gate", "--project", "1", "--release", "app@2.0", "--environment", "production"]
    remote += ["--url", api.server.url, "--token", api.read]
    cases = [
        ({"crashFreeSessionsTarget": 96}, 0, "PASS"),
        ({"crashFreeSessionsTarget": 99, "crashFreeSessionsCritical": 95}, 1, "WARN"),
        ({"crashFreeSessionsTarget": 99, "crashFreeSessionsCritical": 97}, 2, "FAIL"),
        ({"minUsers": 11}, 3, "INSUFFICIENT_DATA"),
    ]
    for rules, code, verdict in cases:
        api.data(UPDATE, id=gate["id"], input={"environment": "production", **rules})
        capsys.readouterr()
        assert main(remote) == code
        out = capsys.readouterr().out
        assert out.startswith(f"{verdict}  app@2.0 in production"), out
        assert main([*remote, "--json"]) == code
        printed = json.loads(capsys.readouterr().out)
        assert printed["verdict"] == verdict and printed["sessions"] == 100
    # The text names the rule and every number.
    api.data(
        UPDATE,
        id=gate["id"],
        input={"environment": "production", "crashFreeSessionsTarget": 99, "crashFreeSessionsCritical": 97},
    )
    main(remote)
    out = capsys.readouterr().out
    assert "rule: crash-free sessions 96 % is below the critical level 97 %" in out
    # The token may come from RELHEALTH_TOKEN instead of the command line.
    i = remote.index("--token")
    without_token = remote[:i] + remote[i + 2 :]
    monkeypatch.setenv("RELHEALTH_TOKEN", remote[i + 1])
    assert main(without_token) == 2
    monkeypatch.setenv("RELHEALTH_TOKEN", "rh_wrong")
    assert main(without_token) == 4
    assert "crash free sessions" in out and "96 %" in out and "target 99 critical 97" in out

    # Errors: 4. No gate for staging; a token that is not valid; a server that is not there.
    assert (
        main(
            [
                "gate",
                "--project",
                "1",
                "--release",
                "app@2.0",
                "--environment",
                "staging",
                "--url",
                api.server.url,
                "--token",
                api.read,
            ]
        )
        == 4
    )
    assert main([*remote[:7], "--url", api.server.url, "--token", "nope"]) == 4
    assert main([*remote[:7], "--url", "http://127.0.0.1:9", "--token", api.read]) == 4
    with pytest.raises(SystemExit) as usage:
        main(["gate", "--project", "1"])
    assert usage.value.code == 4
    # A release that never sent a session: nothing to judge yet.
    assert (
        main(["gate", "--project", "1", "--release", "app@9.9", "--url", api.server.url, "--token", api.read])
        == 3
    )


def test_cli_local_database_and_gates_commands(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI's own clock (retention is judged against it): two days after the data.
    monkeypatch.setattr(SystemClock, "now", lambda self: CLOCK + 2 * 86400)
    db = ["--database-url", api.server.settings.database_url]
    assert (
        main(
            [
                *[
                    "gates",
                    "add",
                    "--project",
                    "1",
                    "--environment",
                    "production",
                    "--crash-free-sessions-target",
                    "99",
                    "--crash-free-sessions-critical",
                    "97",
                    "--min-sessions",
                    "50",
                ],
                *db,
            ]
        )
        == 0
    )
    added = capsys.readouterr().out
    assert added.startswith("gate ") and "environment production" in added
    gate_id = int(added.split()[1])
    assert main(["gates", "add", "--project", "1", "--environment", "production", *db]) == 1
    assert "already has a gate" in capsys.readouterr().err
    assert (
        main(
            [
                *[
                    "gates",
                    "add",
                    "--project",
                    "1",
                    "--crash-free-users-target",
                    "90",
                    "--crash-free-users-critical",
                    "95",
                ],
                *db,
            ]
        )
        == 1
    )
    assert "must not be above" in capsys.readouterr().err

    assert main(["gates", "list", "--project", "1", *db]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"{gate_id}\tproject 1 (acme/mobile)")
    assert "crash_free_sessions_target=99 crash_free_sessions_critical=97" in listed

    # The local database, evaluated at the instant the data was sent for.
    local = [
        "gate",
        "--project",
        "1",
        "--release",
        "app@2.0",
        "--environment",
        "production",
        "--at",
        "2025-06-02T12:00:00Z",
        *db,
    ]
    assert main(local) == 2
    assert "rule: crash-free sessions 96 % is below the critical level 97 %" in capsys.readouterr().out
    # A day later: the window is empty.
    assert main([*local[:-4], "--at", "2025-06-03T12:00:00Z", *db]) == 3

    assert main(["gates", "remove", str(gate_id), *db]) == 0
    assert main(["gates", "remove", str(gate_id), *db]) == 1
    assert main(local) == 4  # no gate any more
