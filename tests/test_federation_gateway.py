"""A real Apollo gateway (`@apollo/gateway` 2.x) composes relhealth's API v2 (/graphql),
live on 127.0.0.1 with data ingested through its envelope endpoint, with two Node
subgraphs that hold relhealth's entities by every key it declares: `deployments` by
`Release(projectId version)` and `Project(id)`, `owners` by `Release(id)` and
`Project(projectId)`, the ids being the global ids relhealth issued. Queries cross both
ways, and the gateway forwards the client's Bearer token to relhealth. One smaller case
composes the frozen v1 (/graphql/v1) with `deployments`.

The npm packages are installed once into ~/.cache/relhealth-npm/<hash of the package list>
(never into the repository); without npm the test skips, except under CI=true."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gql.core.ids import global_id
from server.clock import FixedClock
from server.settings import Settings
from tests import npm_cache

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "federation"
PACKAGES = npm_cache.APOLLO_FEDERATION
NOW = float(int(time.time()) // 60 * 60)


class NodeServer:
    """A Node script that prints {"ready": url} once it listens."""

    def __init__(self, script: str, env: dict[str, str], log: Path) -> None:
        # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen(
                ["node", str(HERE / script)],
                env={**os.environ, **env},
                cwd=HERE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        self.url = self._wait_ready(script)

    def _wait_ready(self, script: str, timeout: float = 90) -> str:
        # Read the raw pipe: a buffered readline() could leave the ready line in Python's
        # buffer behind another line, where select() never sees it.
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 65536)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.startswith(b"{"):
                        # Keep draining stdout, so a chatty server never blocks on a full pipe.
                        threading.Thread(target=self._drain, args=(fd,), daemon=True).start()
                        return str(json.loads(line)["ready"])
                if not chunk and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        self.stop()
        raise AssertionError(
            f"{script} did not start within {timeout} s (exit {self.proc.returncode}); "
            f"stdout {pending[-2000:]!r}; stderr: {self.log.read_text()}"
        )

    @staticmethod
    def _drain(fd: int) -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 65536):
                pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def node_servers(tmp_path: Path) -> Iterator[object]:
    started: list[NodeServer] = []

    def start(script: str, env: dict[str, str]) -> NodeServer:
        server = NodeServer(script, env, tmp_path / f"{script}.log")
        started.append(server)
        return server

    yield start
    for s in reversed(started):
        s.stop()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _ingest(server, key: str, project: int, release: str, aggregates: list[dict]) -> None:
    payload = json.dumps(
        {"attrs": {"release": release, "environment": "production"}, "aggregates": aggregates}
    )
    body = "{}\n" + json.dumps({"type": "sessions", "length": len(payload.encode())}) + "\n" + payload + "\n"
    r = httpx.post(
        f"{server.url}/api/{project}/envelope/",
        content=body.encode(),
        trust_env=False,
        timeout=30,
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        },
    )
    assert r.status_code == 200, r.text


def _ask(url: str, query: str, token: str) -> dict:
    r = httpx.post(
        url, json={"query": query}, headers={"Authorization": f"Bearer {token}"}, trust_env=False, timeout=60
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _relhealth(server, query: str, token: str) -> dict:
    """A query asked of relhealth's API v2 directly, without the gateway."""
    body = _ask(f"{server.url}/graphql", query, token)
    assert "errors" not in body, body
    return dict(body["data"])


def _deployment(id: str, project: str, number: str, version: str, by: str, notes: str | None = None) -> dict:
    """A deployment of the `deployments` subgraph: `project` is relhealth's id of the
    project (whatever the API version issued), `number` its numeric id."""
    return {"id": id, "environment": "production", "projectId": number, "version": version,
            "project": project, "deployedBy": by, "notes": notes}  # fmt: skip


def _without(value: Any, names: set[str]) -> Any:
    """`value` without the fields named (those another subgraph contributes)."""
    if isinstance(value, dict):
        return {k: _without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_without(v, names) for v in value]
    return value


class Org:
    """Two organizations' data on a live relhealth: acme's project 1 with web@2.0 (3 users,
    4 sessions, one crashed) and web@1.0 (1 user, 1 session), globex's project 2."""

    def __init__(self, live_server, url: str) -> None:
        self.server = server = live_server(Settings(database_url=url), clock=FixedClock(NOW))
        _, key = server.run(lambda: server.services.accounts.create_project("acme", "web", 1))
        _, globex_key = server.run(lambda: server.services.accounts.create_project("globex", "shop", 2))
        self.token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
        self.other = server.run(lambda: server.services.accounts.create_token("globex", ["org:read"]))
        started = _iso(NOW - 600)
        sessions = [
            {"started": started, "did": "u1", "exited": 2},
            {"started": started, "did": "u2", "crashed": 1},
            {"started": started, "did": "u3", "exited": 1},
        ]
        _ingest(server, key, 1, "web@2.0", sessions)
        _ingest(server, key, 1, "web@1.0", [{"started": started, "did": "u4", "exited": 1}])
        _ingest(server, globex_key, 2, "shop@1.0", [{"started": started, "did": "s1", "exited": 1}])


@pytest.fixture
def relhealth(live_server, sqlite_url) -> Org:
    return Org(live_server, sqlite_url)


def _gateway(node_servers, org: Org, subgraphs: dict[str, tuple[str, dict[str, Any]]], path: str):
    """Start each Node subgraph (script, data in its env) and a gateway over them and
    relhealth's `path`."""
    env = {"RELHEALTH_NPM_DIR": str(npm_cache.npm_dir(PACKAGES, "the Apollo gateway test"))}
    urls = [{"name": "relhealth", "url": f"{org.server.url}{path}"}]
    for name, (script, data) in subgraphs.items():
        started = node_servers(script, {**env, **{k: json.dumps(v) for k, v in data.items()}})
        urls.append({"name": name, "url": started.url})
    return node_servers("gateway.mjs", {**env, "RELHEALTH_TOKEN": org.token, "SUBGRAPHS": json.dumps(urls)})


SCOPE = f'scope: {{window: {{period: LAST_24_HOURS}}, at: "{_iso(NOW)}"}}'
RELEASE_HEALTH = f"health({SCOPE}) {{ sessions users crashFreeSessionRate crashFreeUserRate adoption {{ userRate sessionRate }} }}"

# Worked out by hand from the sessions `Org` writes.
WEB_2 = {
    "sessions": 4,
    "users": 3,
    "crashFreeSessionRate": 75.0,
    "crashFreeUserRate": 100 * 2 / 3,
    "adoption": {"userRate": 75.0, "sessionRate": 80.0},  # 3 of 4 users, 4 of 5 sessions
}
WEB_1 = {
    "sessions": 1,
    "users": 1,
    "crashFreeSessionRate": 100.0,
    "crashFreeUserRate": 100.0,
    "adoption": {"userRate": 25.0, "sessionRate": 20.0},
}
PROJECT = {"sessions": 5, "users": 4, "crashFreeSessionRate": 80.0}

# (a) From the other subgraphs' roots to relhealth: `deployments` hands the gateway
# `Release(projectId version)` and `Project(id)` references, `owners` `Release(id)` and
# `Project(projectId)`. Fields of the third subgraph ride along through relhealth's keys.
SUBGRAPH_ROOTS = f"""{{
  deployments {{ id environment
    release {{ id projectId version deployedBy owner {RELEASE_HEALTH} project {{ slug team }} }}
    project {{ id projectId slug deploymentsCount team
              health({SCOPE}) {{ sessions users crashFreeSessionRate }} releases(first: 10) {{ totalCount }} }} }}
  ownerships {{ id
    release {{ id projectId version owner deployedBy health({SCOPE}) {{ sessions crashFreeSessionRate }} }}
    project {{ id projectId slug team deploymentsCount }} }}
}}"""

# (b) From relhealth's root to the other subgraphs' fields on its entities, which go in
# `{project_extra}` and `{release_extra}` (empty for the same query asked of relhealth).
CONTRIBUTED = {"deployedBy", "notes", "owner", "team", "deploymentsCount"}
RELHEALTH_ROOT = """{{ project(id: "1") {{ id projectId slug {project_extra}
    releases(first: 10) {{ nodes {{ id version {release_extra} health({scope}) {{ sessions crashFreeSessionRate }} }} }} }} }}"""


def test_apollo_gateway_composes_relhealth_v2_with_other_subgraphs(relhealth, node_servers):
    org = relhealth
    # The ids relhealth issues, which the other subgraphs store as they are.
    ids = _relhealth(
        org.server,
        '{ project(id: "1") { id releases(first: 10) { nodes { id version } } } }',
        org.token,
    )["project"]
    release_id = {n["version"]: n["id"] for n in ids["releases"]["nodes"]}
    web, web2, web1 = ids["id"], release_id["web@2.0"], release_id["web@1.0"]
    globex = _relhealth(
        org.server,
        '{ project(id: "2") { id release(version: "shop@1.0") { id } } }',
        org.other,
    )["project"]
    unknown = global_id("Release", 1, "web@9.9")  # no session ever: relhealth issued no id

    deployments = [
        _deployment("d1", web, "1", "web@2.0", "alice", "canary passed"),
        _deployment("d2", web, "1", "web@1.0", "bob"),
        _deployment("d3", web, "1", "web@9.9", "carol"),  # a release relhealth never saw
        _deployment("d4", globex["id"], "2", "shop@1.0", "dave"),  # another organization's
    ]
    ownerships = [
        {"id": "o1", "release": web2, "projectId": "1", "owner": "erin", "team": "web-platform"},
        {"id": "o2", "release": web1, "projectId": "1", "owner": "frank", "team": "web-platform"},
        {"id": "o3", "release": unknown, "projectId": "1", "owner": "grace", "team": "web-platform"},
        {"id": "o4", "release": globex["release"]["id"], "projectId": "2", "owner": "heidi", "team": "shop"},
    ]
    gateway = _gateway(
        node_servers,
        org,
        {
            "deployments": ("subgraph.mjs", {"DEPLOYMENTS": deployments}),
            "owners": ("owners.mjs", {"OWNERSHIPS": ownerships}),
        },
        "/graphql",
    )

    # (a) The other subgraphs' roots, then relhealth's Release and Project by every key.
    body = _ask(gateway.url, SUBGRAPH_ROOTS, org.token)
    print("gateway answer, other subgraphs' roots to relhealth:\n" + json.dumps(body, indent=1))
    assert "errors" not in body, body
    project = {
        "id": web,
        "projectId": "1",
        "slug": "web",
        "deploymentsCount": 3,
        "team": "web-platform",
        "health": PROJECT,
        "releases": {"totalCount": 2},
    }
    release_2 = {"id": web2, "projectId": "1", "version": "web@2.0", "deployedBy": "alice", "owner": "erin"}
    release_1 = {"id": web1, "projectId": "1", "version": "web@1.0", "deployedBy": "bob", "owner": "frank"}
    on_project = {"slug": "web", "team": "web-platform"}
    assert body["data"]["deployments"] == [
        {
            "id": "d1",
            "environment": "production",
            "release": {**release_2, "health": WEB_2, "project": on_project},
            "project": project,
        },
        {
            "id": "d2",
            "environment": "production",
            "release": {**release_1, "health": WEB_1, "project": on_project},
            "project": project,
        },
        # relhealth resolves an unknown release and another organization's entities to null.
        {"id": "d3", "environment": "production", "release": None, "project": project},
        {"id": "d4", "environment": "production", "release": None, "project": None},
    ]
    owned = {k: v for k, v in project.items() if k in {"id", "projectId", "slug", "team", "deploymentsCount"}}
    assert body["data"]["ownerships"] == [
        {
            "id": "o1",
            "release": {**release_2, "health": _pick(WEB_2)},
            "project": owned,
        },
        {
            "id": "o2",
            "release": {**release_1, "health": _pick(WEB_1)},
            "project": owned,
        },
        {"id": "o3", "release": None, "project": owned},
        {"id": "o4", "release": None, "project": None},
    ]
    # Each null is relhealth answering null for a reference (the gateway then nulls the
    # object its non-null fields were missing from), never an error.
    nulled = sorted((e["path"][0], e["path"][1], e["path"][2]) for e in body["extensions"]["valueCompletion"])
    assert nulled == [
        ("deployments", 2, "release"),
        ("deployments", 3, "project"),
        ("deployments", 3, "release"),
        ("ownerships", 2, "release"),
        ("ownerships", 3, "project"),
        ("ownerships", 3, "release"),
    ]
    # The same numbers as relhealth answers directly, for each reference.
    direct = _relhealth(
        org.server,
        f"""{{ new: release(project: "1", version: "web@2.0") {{ {RELEASE_HEALTH} }}
              old: release(project: "1", version: "web@1.0") {{ {RELEASE_HEALTH} }}
              gone: release(project: "1", version: "web@9.9") {{ id }}
              shop: release(project: "2", version: "shop@1.0") {{ id }}
              other: project(id: "{globex["id"]}") {{ id }}
              project(id: "{web}") {{ health({SCOPE}) {{ sessions users crashFreeSessionRate }} }} }}""",
        org.token,
    )
    assert direct == {
        "new": {"health": WEB_2},
        "old": {"health": WEB_1},
        "gone": None,
        "shop": None,
        "other": None,
        "project": {"health": PROJECT},
    }

    # (b) relhealth's root, then the other subgraphs' fields on its Project and Releases.
    query = RELHEALTH_ROOT.format(
        scope=SCOPE, project_extra="deploymentsCount team", release_extra="deployedBy notes owner"
    )
    body = _ask(gateway.url, query, org.token)
    print("gateway answer, relhealth's root to the other subgraphs:\n" + json.dumps(body, indent=1))
    assert "errors" not in body, body
    assert body["data"] == {
        "project": {
            "id": web,
            "projectId": "1",
            "slug": "web",
            "deploymentsCount": 3,
            "team": "web-platform",
            "releases": {
                "nodes": [
                    {
                        "id": web1,
                        "version": "web@1.0",
                        "deployedBy": "bob",
                        "notes": None,
                        "owner": "frank",
                        "health": _pick(WEB_1),
                    },
                    {
                        "id": web2,
                        "version": "web@2.0",
                        "deployedBy": "alice",
                        "notes": "canary passed",
                        "owner": "erin",
                        "health": _pick(WEB_2),
                    },
                ]
            },
        }
    }
    query = RELHEALTH_ROOT.format(scope=SCOPE, project_extra="", release_extra="")
    assert _without(body["data"], CONTRIBUTED) == _relhealth(org.server, query, org.token)

    # The gateway forwards the caller's token: another organization sees none of acme's data.
    body = _ask(
        gateway.url,
        "{ deployments { id release { version deployedBy } project { id } } }",
        org.other,
    )
    assert [d["release"] for d in body["data"]["deployments"]] == [
        {"version": "web@2.0", "deployedBy": "alice"},
        {"version": "web@1.0", "deployedBy": "bob"},
        {"version": "web@9.9", "deployedBy": "carol"},
        {"version": "shop@1.0", "deployedBy": "dave"},
    ], body
    # Local fields of the other subgraphs stay; relhealth's do not leak across organizations.
    assert [d["project"] for d in body["data"]["deployments"]] == [
        {"id": web},
        {"id": web},
        {"id": web},
        {"id": globex["id"]},
    ]
    body = _ask(
        gateway.url,
        "{ deployments { id project { slug } release { health(" + SCOPE + ") { sessions } } } }",
        org.other,
    )
    assert [(d["project"], d["release"]) for d in body["data"]["deployments"]] == [
        (None, None),
        (None, None),
        (None, None),
        ({"slug": "shop"}, {"health": {"sessions": 1}}),
    ], body


def _pick(health: dict[str, Any]) -> dict[str, Any]:
    return {"sessions": health["sessions"], "crashFreeSessionRate": health["crashFreeSessionRate"]}


def test_apollo_gateway_composes_relhealth_v1(relhealth, node_servers):
    """The frozen v1 keeps its keys (`Project(id)` numeric, `Release(projectId version)`)."""
    org = relhealth
    deployments = [
        _deployment("d1", "1", "1", "web@2.0", "alice", "canary passed"),
        _deployment("d2", "2", "2", "shop@1.0", "dave"),
    ]
    gateway = _gateway(
        node_servers, org, {"deployments": ("subgraph.mjs", {"DEPLOYMENTS": deployments})}, "/graphql/v1"
    )
    body = _ask(
        gateway.url,
        """{ deployments { id release { version deployedBy health { totalSessions crashFreeSessions } }
                           project { id slug deploymentsCount } }
             project(id: "1") { slug releases(first: 10) { nodes { version deployedBy } } } }""",
        org.token,
    )
    assert "errors" not in body, body
    assert body["data"] == {
        "deployments": [
            {
                "id": "d1",
                "release": {
                    "version": "web@2.0",
                    "deployedBy": "alice",
                    "health": {"totalSessions": 4, "crashFreeSessions": 75.0},
                },
                "project": {"id": "1", "slug": "web", "deploymentsCount": 1},
            },
            {"id": "d2", "release": None, "project": None},
        ],
        "project": {
            "slug": "web",
            "releases": {
                "nodes": [
                    {"version": "web@2.0", "deployedBy": "alice"},
                    {"version": "web@1.0", "deployedBy": None},
                ]
            },
        },
    }
