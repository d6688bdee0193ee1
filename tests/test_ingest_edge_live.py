"""Bounded measurement on a real server process (issue 7, "Safe at the edge").

The issue's attacks against `relhealth serve` on 127.0.0.1: the 194 KiB gzip envelope of
6.4 million tiny items, with a wrong key and with the right one (three at once), and the
legal 100 x 11,000-bucket envelope. Each is answered in under 1 s with under 100 MiB of
extra server RSS (peak, VmHWM) while a valid envelope of another project, sent meanwhile,
is answered in under 1 s. Figures: `pytest -s tests/test_ingest_edge_live.py`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.test_process import relhealth, start_server

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
LATENCY_BOUND = 1.0
RSS_BOUND = 100 * MIB


def bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b"{}\n")]
    block = b'{"type":"x"}\n{}\n' * 10_000
    parts += [compressor.compress(block) for _ in range(640)]
    parts.append(compressor.flush())
    return b"".join(parts)


def big_sessions() -> bytes:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:00Z")
    bucket = {"started": started, "did": "u", "exited": 1, "errored": 1}
    item = json.dumps({"attrs": {"release": "r@1"}, "aggregates": [bucket] * 11_000})
    body = "{}\n" + "".join(f'{{"type":"sessions"}}\n{item}\n' for _ in range(100))
    return zlib.compress(body.encode(), 9)


def valid_envelope() -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"init": True, "started": now, "status": "exited", "attrs": {"release": "victim@1"}}
    return f'{{}}\n{{"type":"session"}}\n{json.dumps(payload)}\n'.encode()


def rss(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert match
    return int(match.group(1)) * 1024


def create_project(url: str, slug: str, project_id: int) -> str:
    out = relhealth("projects", "create", "acme", slug, "--id", str(project_id), "--database-url", url)
    assert out.returncode == 0, out.stderr
    match = re.search(r"DSN: http://([0-9a-f]{32})@", out.stdout)
    assert match
    return match.group(1)


def post(base: str, project_id: int, key: str, body: bytes, encoding: str | None) -> tuple[int, float]:
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    if encoding:
        headers["Content-Encoding"] = encoding
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/api/{project_id}/envelope/", content=body, headers=headers, timeout=60, trust_env=False
    )
    return r.status_code, time.perf_counter() - started


def attack(
    base: str, requests: list[tuple[int, str, bytes, str | None]], victim_key: str
) -> dict[str, object]:
    """Send `requests` at once and, 50 ms later, the victim envelope of project 2."""
    results: list[tuple[int, float] | None] = [None] * len(requests)

    def send(i: int) -> None:
        project_id, key, body, encoding = requests[i]
        results[i] = post(base, project_id, key, body, encoding)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    time.sleep(0.05)
    victim = post(base, 2, victim_key, valid_envelope(), None)
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results)
    return {"attack": results, "victim": victim}


def test_attacks_are_cheap_and_never_stall_other_projects(sqlite_url, tmp_path):
    key = create_project(sqlite_url, "app", 1)
    victim_key = create_project(sqlite_url, "victim", 2)
    port = free_port()
    proc = start_server(sqlite_url, port, log=tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        the_bomb, the_sessions = bomb(), big_sessions()
        assert 150 * 1024 < len(the_bomb) < 260 * 1024
        # Warm up: first requests import and cache what every later one uses.
        assert post(base, 2, victim_key, valid_envelope(), None)[0] == 200
        assert post(base, 1, key, valid_envelope(), None)[0] == 200
        baseline = rss(proc.pid, "VmRSS")

        cases = {
            "bomb_bad_key": [(1, "f" * 32, the_bomb, "gzip")],
            "bomb_good_key": [(1, key, the_bomb, "gzip")],
            "bomb_good_key_x3": [(1, key, the_bomb, "gzip")] * 3,
            "sessions_100x11000": [(1, key, the_sessions, "deflate")],
        }
        expected = {
            "bomb_bad_key": 403,
            "bomb_good_key": 413,
            "bomb_good_key_x3": 413,
            "sessions_100x11000": 413,
        }
        figures: dict[str, object] = {}
        for name, requests in cases.items():
            found = attack(base, requests, victim_key)
            peak = rss(proc.pid, "VmHWM") - baseline
            figures[name] = {
                "status": [s for s, _ in found["attack"]],  # type: ignore[union-attr]
                "seconds": [round(t, 3) for _, t in found["attack"]],  # type: ignore[union-attr]
                "victim": [found["victim"][0], round(found["victim"][1], 3)],  # type: ignore[index]
                "peak_extra_rss_mib": round(peak / MIB, 1),
            }
            for status, seconds in found["attack"]:  # type: ignore[union-attr]
                assert status == expected[name], (name, figures[name])
                assert seconds < LATENCY_BOUND, (name, figures[name])
            victim_status, victim_seconds = found["victim"]  # type: ignore[misc]
            assert victim_status == 200 and victim_seconds < LATENCY_BOUND, (name, figures[name])
            assert peak < RSS_BOUND, (name, figures[name])
        print(json.dumps(figures))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_one_key_cannot_flood_the_catalogue(sqlite_url, tmp_path):
    """The issue's series flood (30,000 series in 6 s), scaled down: 3,000 distinct releases
    and environments from one key create at most the hourly caps' worth of series."""
    import asyncio

    from storage.engine import create_engine
    from storage.store import SessionStore

    key = create_project(sqlite_url, "app", 1)
    port = free_port()
    proc = start_server(sqlite_url, port, log=tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.perf_counter()
    try:
        for n in range(30):
            items = "".join(
                '{"type":"session"}\n'
                + json.dumps(
                    {
                        "init": True,
                        "started": now,
                        "status": "exited",
                        "attrs": {"release": f"flood@{n}.{i}", "environment": f"env-{n}-{i}"},
                    }
                )
                + "\n"
                for i in range(100)
            )
            status, _ = post(base, 1, key, ("{}\n" + items).encode(), None)
            assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    elapsed = time.perf_counter() - started

    async def series() -> int:
        engine = create_engine(sqlite_url)
        try:
            return len(await SessionStore(engine).series([1]))
        finally:
            await engine.dispose()

    created = asyncio.run(series())
    print(
        json.dumps({"series_flood": {"sent": 3000, "series_created": created, "seconds": round(elapsed, 2)}})
    )
    assert created <= 20  # the default 20 new environments per hour bound it first
