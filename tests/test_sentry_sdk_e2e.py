"""The real sentry-sdk sends sessions to a live relhealth on 127.0.0.1; GraphQL over real
HTTP answers the numbers release-health.md defines for them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _sdk(mode: str, dsn: str, release: str, compression: str, *users: str, expect_ok: bool = True) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.sdk_scenarios", mode, dsn, release, compression, *users],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if expect_ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert "RuntimeError" in proc.stderr, proc.stderr


def _query(server, token: str, query: str) -> dict:
    r = httpx.post(
        f"{server.url}/graphql/v1",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def test_sentry_sdk_sessions_are_counted(live_server, database_url):
    server = live_server(Settings(database_url=database_url))
    info, key = server.run(lambda: server.services.accounts.create_project("acme", "app", 7))
    token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
    dsn = f"http://{key}@127.0.0.1:{server.port}/7"

    # Application mode: u1 healthy twice (once gzip), u2 errored (handled exception),
    # u3 crashed (uncaught exception; the SDK sends the session at exit).
    _sdk("healthy", dsn, "app@1.0.0", "br", "u1")
    _sdk("healthy", dsn, "app@1.0.0", "gzip", "u1")
    _sdk("errored", dsn, "app@1.0.0", "br", "u2")
    _sdk("crash", dsn, "app@1.0.0", "br", "u3", expect_ok=False)
    # Request mode: five requests of a WSGI app, one raising -> one crashed bucket entry.
    _sdk("requests", dsn, "web@2.0.0", "gzip")

    assert "br" in server.encodings and "gzip" in server.encodings

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    data = _query(
        server,
        token,
        """{
      app: release(projectId: "7", version: "app@1.0.0") { health(now: "%(now)s") {
        totalSessions totalUsers crashFreeSessions crashFreeUsers sessionsCrashed sessionsErrored } }
      web: release(projectId: "7", version: "web@2.0.0") { health(now: "%(now)s") {
        totalSessions totalUsers crashFreeSessions crashFreeUsers sessionsCrashed sessionsErrored }
        adoption(now: "%(now)s") { sessionsAdoption sessions24h projectSessions24h } }
    }"""
        % {"now": now},
    )

    app = data["app"]["health"]
    # 4 started; 1 crashed; error set {errored, crashed} -> errored status 2 - 1 = 1;
    # users u1, u2, u3 with u3 crashed.
    assert app == {
        "totalSessions": 4,
        "totalUsers": 3,
        "crashFreeSessions": 100 - 1 / 4 * 100,
        "crashFreeUsers": 100 - 1 / 3 * 100,
        "sessionsCrashed": 1,
        "sessionsErrored": 1,
    }
    web = data["web"]["health"]
    # Aggregates: exited 4 + crashed 1 -> started 5, errored_preaggr 1, crashed 1; no users.
    assert web == {
        "totalSessions": 5,
        "totalUsers": None,
        "crashFreeSessions": 100 - 1 / 5 * 100,
        "crashFreeUsers": None,
        "sessionsCrashed": 1,
        "sessionsErrored": 0,
    }
    assert data["web"]["adoption"] == {
        "sessionsAdoption": 5 / 9 * 100,
        "sessions24h": 5,
        "projectSessions24h": 9,
    }
