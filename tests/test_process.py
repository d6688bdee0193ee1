"""The `relhealth` command as a user runs it: real processes, real HTTP, kill -9."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from storage.engine import create_engine
from storage.store import SessionStore
from storage.types import HOUR, AggregateQuery, Quantity
from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def relhealth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def start_server(url: str, port: int, *extra: str, log: Path | None = None) -> subprocess.Popen[str]:
    # Output goes to a file: a full pipe would block the server.
    log = log or Path(os.devnull)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--database-url", url, *extra],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1, trust_env=False).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text() if log.exists() else ''}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready")


def _stored_started(url: str, project_id: int) -> int:
    async def read() -> int:
        engine = create_engine(url)
        try:
            result = await SessionStore(engine).aggregate(
                AggregateQuery(
                    project_ids=(project_id,),
                    start=0,
                    end=2_000_000_000,
                    granularity=HOUR,
                    quantities=frozenset({Quantity.COUNTERS}),
                )
            )
            totals = list(result.totals.values())
            return totals[0].counters.started if totals else 0
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_cli_projects_and_tokens(sqlite_url):
    out = relhealth("projects", "create", "acme", "web", "--id", "5", "--database-url", sqlite_url)
    assert out.returncode == 0, out.stderr
    assert "project id: 5" in out.stdout
    assert re.search(r"DSN: http://[0-9a-f]{32}@127\.0\.0\.1:9000/5", out.stdout)
    again = relhealth("projects", "create", "acme", "web", "--database-url", sqlite_url)
    assert again.returncode == 1 and "already exists" in again.stderr
    token = relhealth("tokens", "create", "acme", "--scope", "org:read", "--database-url", sqlite_url)
    assert token.returncode == 0 and token.stdout.startswith("rh_")
    bad = relhealth("tokens", "create", "acme", "--scope", "org:everything", "--database-url", sqlite_url)
    assert bad.returncode == 1 and "invalid scope" in bad.stderr
    missing = relhealth("tokens", "create", "nope", "--scope", "org:read", "--database-url", sqlite_url)
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def _envelope(i: int) -> bytes:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = '{"sid":"%032x","init":true,"started":"%s","status":"exited","attrs":{"release":"r@1"}}' % (
        i + 1,
        started,
    )
    return f'{{}}\n{{"type":"session"}}\n{payload}\n'.encode()


def test_a_200_survives_kill_9(database_url):
    """Every envelope answered 200 is counted after the process is killed with SIGKILL."""
    out = relhealth("projects", "create", "acme", "web", "--id", "9", "--database-url", database_url)
    key = re.search(r"http://([0-9a-f]{32})@", out.stdout).group(1)  # type: ignore[union-attr]
    port = free_port()
    proc = start_server(database_url, port)
    url = f"http://127.0.0.1:{port}/api/9/envelope/"
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}

    async def burst() -> int:
        acknowledged = 0
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:

            async def one(i: int) -> int:
                try:
                    r = await client.post(url, content=_envelope(i), headers=headers)
                except httpx.HTTPError:
                    return 0
                return int(r.status_code == 200)

            for start in range(0, 200, 20):
                acknowledged += sum(await asyncio.gather(*(one(start + i) for i in range(20))))
            # Kill while the last wave is in flight: only answered ones must be counted.
            pending = [asyncio.create_task(one(1000 + i)) for i in range(20)]
            await asyncio.sleep(0.005)
            os.kill(proc.pid, signal.SIGKILL)
            acknowledged += sum(await asyncio.gather(*pending))
        return acknowledged

    acknowledged = asyncio.run(burst())
    proc.wait(timeout=30)
    stored = _stored_started(database_url, 9)
    assert acknowledged >= 200
    assert acknowledged <= stored <= 220


def test_serve_demo_prints_a_working_token_and_query(tmp_path):
    """The README's first command: `relhealth serve --demo` on an empty store."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    port = free_port()
    log = tmp_path / "serve.log"
    proc = start_server(url, port, "--demo", log=log)
    try:
        text = log.read_text()
        assert f"GraphiQL:  http://127.0.0.1:{port}/graphql#token=" in text
        token = re.search(r"token:\s+(rh_\S+)", text).group(1)  # type: ignore[union-attr]
        # The dashboard's address comes first, signing in with the same token.
        dashboard = f"  Dashboard: http://127.0.0.1:{port}/#token={token}   (opens signed in;"
        assert text.index(dashboard) < text.index("  GraphiQL:")
        page = httpx.get(f"http://127.0.0.1:{port}/", trust_env=False)
        assert page.status_code == 200 and "content-security-policy" in page.headers
        signed = httpx.post(f"http://127.0.0.1:{port}/auth/session", json={"token": token}, trust_env=False)
        assert signed.status_code == 200 and signed.json()["organization"] == "demo"
        assert re.search(rf"DSN:\s+http://[0-9a-f]{{32}}@127\.0\.0\.1:{port}/\d+", text)
        query = text.split("example query:\n", 1)[1].split("\n  curl:", 1)[0]
        r = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
            timeout=30,
        )
        body = r.json()
        assert "errors" not in body, body
        nodes = body["data"]["organization"]["health"]["releases"]["nodes"]
        assert nodes and all(n["sessions"] and len(n["series"]["total"]) >= 24 for n in nodes)
        page = httpx.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}, trust_env=False)
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
