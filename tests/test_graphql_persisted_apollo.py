"""The real client: Apollo Client 4 with `@apollo/client/link/persisted-queries` (hashing
with `crypto-hash`) in Node, against `relhealth serve` on 127.0.0.1.

- APQ, with `useGETForHashedQueries` false and true: the first query is a miss (hash
  only), then the link sends the text with the hash (registered, answered), and the
  next run of the query is a hit with the hash only; requests are counted.
- Allowlist mode: an operation registered from a `.graphql` file with `relhealth
  persisted-queries add` runs from its hash alone (the CLI's hash is Apollo's), and an
  unregistered one is refused with PERSISTED_QUERY_NOT_ALLOWED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.npm_cache import npm_dir

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent / "js"
PACKAGES = ("@apollo/client@4.3.8", "graphql@16.15.0", "rxjs@7.8.2", "crypto-hash@4.0.1")
RELHEALTH = [sys.executable, "-m", "cli.main"]
REGISTERED = HERE / "releases.graphql"
UNREGISTERED = '{ organization(slug: "acme") { slug } }'


def _cli(env: dict[str, str], *argv: str) -> str:
    proc = subprocess.run([*RELHEALTH, *argv], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class Relhealth:
    def __init__(self, tmp_path: Path, **settings: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "RELHEALTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'relhealth.db'}",
            "RELHEALTH_PORT": str(self.port),
            **{f"RELHEALTH_{k.upper()}": v for k, v in settings.items()},
        }
        self.url = f"http://127.0.0.1:{self.port}/graphql/v1"
        _cli(self.env, "migrate")
        _cli(self.env, "projects", "create", "acme", "web", "--id", "1")
        self.token = _cli(self.env, "tokens", "create", "acme", "--scope", "org:read")
        self.log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([*RELHEALTH, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"relhealth serve did not start: {(tmp_path / 'serve.log').read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def relhealth(tmp_path: Path) -> Iterator[Any]:
    started: list[Relhealth] = []

    def start(**settings: str) -> Relhealth:
        server = Relhealth(tmp_path, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _apollo(server: Relhealth, steps: list[dict[str, Any]], use_get: bool) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "RELHEALTH_NPM_DIR": str(npm_dir(PACKAGES, "the Apollo Client persisted-query test")),
        "RELHEALTH_URL": server.url,
        "RELHEALTH_TOKEN": server.token,
        "USE_GET": "true" if use_get else "false",
        "STEPS": json.dumps(steps),
    }
    proc = subprocess.run(
        ["node", str(HERE / "apq_client.mjs")], env=env, cwd=HERE, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


def _shape(result: dict[str, Any]) -> list[tuple[str, bool, bool, int]]:
    return [(r["method"], r["query"], r["hash"] is not None, r["status"]) for r in result["requests"]]


@pytest.mark.parametrize("use_get", [False, True], ids=["post", "get"])
def test_apollo_apq_miss_register_hit(relhealth, use_get):
    server = relhealth()
    step = {"file": str(REGISTERED), "variables": {"slug": "acme"}}
    first, second = _apollo(server, [step, step], use_get)
    data = {
        "organization": {
            "__typename": "Organization",
            "slug": "acme",
            "projects": [{"__typename": "Project", "id": "1", "slug": "web"}],
        }
    }
    assert first["data"] == data and second["data"] == data, (first, second)
    hashed = "GET" if use_get else "POST"
    # Miss (hash only), then the text with the hash, always by POST: registered and run.
    assert _shape(first) == [(hashed, False, True, 200), ("POST", True, True, 200)]
    # Hit: the hash alone.
    assert _shape(second) == [(hashed, False, True, 200)]
    assert first["requests"][0]["hash"] == first["requests"][1]["hash"] == second["requests"][0]["hash"]


@pytest.mark.parametrize("use_get", [False, True], ids=["post", "get"])
def test_apollo_against_allowlist_mode(relhealth, use_get):
    server = relhealth(graphql_allowlist="true")
    printed = _cli(server.env, "persisted-queries", "add", str(REGISTERED))
    digest = printed.split()[0]
    registered, unregistered = _apollo(
        server,
        [{"file": str(REGISTERED), "variables": {"slug": "acme"}}, {"query": UNREGISTERED}],
        use_get,
    )
    # The CLI's hash is the one Apollo computes: a hit at the first request.
    assert registered["error"] is None and registered["data"]["organization"]["slug"] == "acme"
    assert _shape(registered) == [("GET" if use_get else "POST", False, True, 200)]
    assert registered["requests"][0]["hash"] == digest
    # Unregistered: not found, then the text is refused (no APQ registration).
    assert unregistered["data"] is None
    assert unregistered["codes"] == ["PERSISTED_QUERY_NOT_ALLOWED"], unregistered
    assert len(unregistered["requests"]) == 2
