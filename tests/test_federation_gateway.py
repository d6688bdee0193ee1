"""A real Apollo gateway (`@apollo/gateway` 2.x) composes relhealth, live on 127.0.0.1 with
data ingested through its envelope endpoint, with a second Node subgraph that extends
`Release` and references relhealth's `Release` and `Project`. Queries cross both ways, and
the gateway forwards the client's Bearer token to relhealth.

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

import httpx
import pytest

from server.clock import FixedClock
from server.settings import Settings
from tests import npm_cache

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "federation"
PACKAGES = npm_cache.APOLLO_FEDERATION
NOW = float(int(time.time()) // 60 * 60)

DEPLOYMENTS = [
    {
        "id": "d1",
        "environment": "production",
        "projectId": "1",
        "version": "web@2.0",
        "deployedBy": "alice",
        "notes": "canary passed",
    },
    {
        "id": "d2",
        "environment": "production",
        "projectId": "1",
        "version": "web@1.0",
        "deployedBy": "bob",
        "notes": None,
    },
]


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


def _ask(gateway: NodeServer, query: str, token: str | None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.post(gateway.url, json={"query": query}, headers=headers, trust_env=False, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


RELHEALTH_ROOT = """{ project(id: "1") { slug releases(first: 10) { nodes {
    version deployedBy notes health { totalSessions crashFreeSessions } adoption { adoption } } } } }"""

SUBGRAPH_ROOT = """{ deployments { id environment
    release { projectId version deployedBy
              health { totalSessions totalUsers sessionsCrashed crashFreeSessions crashFreeUsers }
              adoption { adoption sessionsAdoption } project { slug } }
    project { id slug releasesCount } } }"""


def test_apollo_gateway_composes_relhealth_with_another_subgraph(live_server, node_servers, sqlite_url):
    npm_dir = npm_cache.npm_dir(PACKAGES, "the Apollo gateway test")
    server = live_server(Settings(database_url=sqlite_url), clock=FixedClock(NOW))
    _, key = server.run(lambda: server.services.accounts.create_project("acme", "web", 1))
    server.run(lambda: server.services.accounts.create_project("globex", "shop", 2))
    token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
    other = server.run(lambda: server.services.accounts.create_token("globex", ["org:read"]))
    started = _iso(NOW - 600)
    _ingest(
        server,
        key,
        1,
        "web@2.0",
        [
            {"started": started, "did": "u1", "exited": 2},
            {"started": started, "did": "u2", "crashed": 1},
            {"started": started, "did": "u3", "exited": 1},
        ],
    )
    _ingest(server, key, 1, "web@1.0", [{"started": started, "did": "u4", "exited": 1}])

    env = {"RELHEALTH_NPM_DIR": str(npm_dir)}
    deployments = node_servers("subgraph.mjs", {**env, "DEPLOYMENTS": json.dumps(DEPLOYMENTS)})
    gateway = node_servers(
        "gateway.mjs",
        {
            **env,
            "RELHEALTH_TOKEN": token,
            "SUBGRAPHS": json.dumps(
                [
                    {"name": "relhealth", "url": f"{server.url}/graphql/v1"},
                    {"name": "deployments", "url": deployments.url},
                ]
            ),
        },
    )

    # relhealth's root, then the second subgraph's fields on each Release.
    body = _ask(gateway, RELHEALTH_ROOT, token)
    assert "errors" not in body, body
    assert body["data"] == {
        "project": {
            "slug": "web",
            "releases": {
                "nodes": [
                    {
                        "version": "web@2.0",
                        "deployedBy": "alice",
                        "notes": "canary passed",
                        "health": {"totalSessions": 4, "crashFreeSessions": 75.0},
                        "adoption": {"adoption": 75.0},
                    },
                    {
                        "version": "web@1.0",
                        "deployedBy": "bob",
                        "notes": None,
                        "health": {"totalSessions": 1, "crashFreeSessions": 100.0},
                        "adoption": {"adoption": 25.0},
                    },
                ]
            },
        }
    }

    # The second subgraph's root, then relhealth's Release and Project entities.
    body = _ask(gateway, SUBGRAPH_ROOT, token)
    assert "errors" not in body, body
    web = {"slug": "web"}
    assert body["data"]["deployments"] == [
        {
            "id": "d1",
            "environment": "production",
            "release": {
                "projectId": "1",
                "version": "web@2.0",
                "deployedBy": "alice",
                "health": {
                    "totalSessions": 4,
                    "totalUsers": 3,
                    "sessionsCrashed": 1,
                    "crashFreeSessions": 75.0,
                    "crashFreeUsers": 100 * 2 / 3,
                },
                "adoption": {"adoption": 75.0, "sessionsAdoption": 80.0},
                "project": web,
            },
            "project": {"id": "1", "slug": "web", "releasesCount": 2},
        },
        {
            "id": "d2",
            "environment": "production",
            "release": {
                "projectId": "1",
                "version": "web@1.0",
                "deployedBy": "bob",
                "health": {
                    "totalSessions": 1,
                    "totalUsers": 1,
                    "sessionsCrashed": 0,
                    "crashFreeSessions": 100.0,
                    "crashFreeUsers": 100.0,
                },
                "adoption": {"adoption": 25.0, "sessionsAdoption": 20.0},
                "project": web,
            },
            "project": {"id": "1", "slug": "web", "releasesCount": 2},
        },
    ]

    # The gateway forwards the caller's token: another organization sees none of acme's data.
    body = _ask(
        gateway, "{ deployments { id release { version adoption { adoption } } project { id slug } } }", other
    )
    assert body["data"]["deployments"] == [
        {"id": "d1", "release": {"version": "web@2.0", "adoption": None}, "project": None},
        {"id": "d2", "release": {"version": "web@1.0", "adoption": None}, "project": None},
    ], body
    assert "75" not in json.dumps(body)
