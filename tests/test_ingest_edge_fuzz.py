"""Mutation fuzzing of the envelope endpoint over HTTP, against a real server process.

Starts from every sample envelope (tests/samples.py) and mutates bytes, lengths, headers,
encodings and credentials with a seeded RNG (reproducible: the failing case's index and
mutations are in the assertion message). Every answer must be below 500 and arrive within
the latency bound; the server must log no exception and stay within the RSS bound.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import random
import re
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import httpx
import pytest
import zstandard

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from tests.conftest import free_port
from tests.samples import load_samples
from tests.test_ingest_edge_live import rss
from tests.test_process import start_server

pytestmark = pytest.mark.slow

KEY = "e12d836b15bb49d7bbf99e64295d995b"
SEED = 20261202
CASES = 400
LATENCY_BOUND = 2.0
RSS_BOUND = 150 * 1024 * 1024

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}
NASTY_STRINGS = [
    "\u0000",
    "\x7f",
    "\n",
    "\r\n",
    "\\",
    "/",
    "..",
    "latest",
    "é" * 300,
    "x" * 5000,
    "\ud7ff",
    "{{auto}}",
]
NASTY_NUMBERS = [-1, 0, 2**31, 2**32, 2**63, 2**64, 1e308, -1e308, 0.5, "1", None, True, [], {}]


def mutate(
    rng: random.Random, body: bytes, headers: dict[str, str], query: str
) -> tuple[bytes, dict[str, str], str, list[str]]:
    headers = dict(headers)
    done: list[str] = []
    # Two cases in five change values only, keeping the framing valid, so that they reach
    # validation and the database; the others mutate anything.
    semantic = rng.random() < 0.4
    for _ in range(rng.randint(1, 3)):
        kind = (
            "json_value"
            if semantic
            else rng.choice(
                [
                    "flip",
                    "truncate",
                    "insert",
                    "duplicate",
                    "length",
                    "json_value",
                    "encoding",
                    "reencode",
                    "auth",
                    "newlines",
                    "repeat_items",
                    "deep_json",
                ]
            )
        )
        done.append(kind)
        if kind == "flip" and body:
            data = bytearray(body)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            body = bytes(data)
        elif kind == "truncate" and body:
            body = body[: rng.randrange(len(body))]
        elif kind == "insert":
            at = rng.randrange(len(body) + 1)
            body = body[:at] + rng.randbytes(rng.randint(1, 32)) + body[at:]
        elif kind == "duplicate" and body:
            a = rng.randrange(len(body))
            b = min(len(body), a + rng.randint(1, 200))
            body = body[:b] + body[a:b] * rng.randint(1, 50) + body[b:]
        elif kind == "length":
            value = rng.choice([0, 1, 7, 2**31, 2**32 - 1, 2**32, -1, 10**30, '"3"', "null", "1.5"])
            body = re.sub(
                rb'"length":\s*[0-9]+', b'"length":' + str(value).encode(), body, count=rng.randint(0, 3)
            )
        elif kind == "json_value":
            field = rng.choice(
                [
                    b"did",
                    b"release",
                    b"environment",
                    b"started",
                    b"sid",
                    b"errors",
                    b"exited",
                    b"duration",
                    b"status",
                    b"sent_at",
                    b"event_id",
                    b"dsn",
                    b"seq",
                    b"init",
                ]
                + [b"did", b"duration", b"exited"] * 3
            )
            value = rng.choice(NASTY_STRINGS + NASTY_NUMBERS if field != b"did" else NASTY_STRINGS)
            encoded = json.dumps(value).encode()
            # Payloads are one line of JSON: without `length` they stay framed when they grow.
            body = re.sub(rb',\s*"length":\s*[0-9]+|"length":\s*[0-9]+\s*,?', b"", body)
            body = re.sub(
                rb'("' + field + rb'":)\s*("[^"]*"|[^,}\]]*)',
                lambda m, v=encoded: m.group(1) + v,
                body,
                count=1,
            )
        elif kind == "encoding":
            headers["Content-Encoding"] = rng.choice(
                ["gzip", "br", "zstd", "deflate", "identity", "x-bogus", "gzip, br", "", "utf-8"]
            )
        elif kind == "reencode":
            codings = rng.sample(sorted(ENCODERS), rng.randint(1, 2))
            for coding in codings:
                body = ENCODERS[coding](body)
            headers["Content-Encoding"] = ", ".join(codings)
        elif kind == "auth":
            choice = rng.choice(["none", "unknown", "double", "query", "basic", "malformed", "version"])
            for name in ("X-Sentry-Auth", "Authorization"):
                headers.pop(name, None)
            if choice == "unknown":
                headers["X-Sentry-Auth"] = f"Sentry sentry_key={rng.randbytes(16).hex()}"
            elif choice == "double":
                headers["X-Sentry-Auth"] = f"Sentry sentry_key={KEY}"
                query = f"sentry_key={KEY}"
            elif choice == "query":
                query = f"sentry_key={KEY}&sentry_version=7"
            elif choice == "basic":
                headers["Authorization"] = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
            elif choice == "malformed":
                headers["X-Sentry-Auth"] = "Sentry " + rng.choice(["x", "sentry_key", "sentry_key=x", "=,=,"])
            elif choice == "version":
                headers["X-Sentry-Auth"] = (
                    f"Sentry sentry_key={KEY}, sentry_version={rng.choice(['8', 'x', '99999999'])}"
                )
        elif kind == "newlines":
            body = body.replace(b"\n", rng.choice([b"\r\n", b"\n\n", b"", b"\n \n"]), rng.randint(1, 4))
        elif kind == "repeat_items":
            lines = body.split(b"\n")
            if len(lines) > 2:
                body = b"\n".join(lines[:1] + lines[1:3] * rng.randint(50, 1500) + lines[3:])
        elif kind == "deep_json":
            depth = rng.choice([100, 2000, 100_000])
            body = body.replace(b"{}", b"[" * depth + b"]" * depth, 1)
    return body, headers, query, done


def recent(sample) -> bytes:
    """The sample's body with its dates moved to yesterday (the server's clock is real), so
    that its items are stored, not dropped as too old; re-encoded as the sample was."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    day_before = yesterday - timedelta(days=1)
    body = sample.envelope_bytes
    body = body.replace(b"2025-06-02", yesterday.strftime("%Y-%m-%d").encode())
    body = body.replace(b"2025-06-01", day_before.strftime("%Y-%m-%d").encode())
    encoding = sample.header("Content-Encoding")
    for coding in [c.strip().lower() for c in (encoding or "").split(",")]:
        if coding in ENCODERS:
            body = ENCODERS[coding](body)
    return body


def seed_database(url: str) -> None:
    async def seed() -> None:
        engine = create_engine(url)
        try:
            await ensure_schema(engine)
            accounts = AccountStore(engine)
            await accounts.create_project("acme", "app", 42)
            await accounts.add_key(42, KEY)
        finally:
            await engine.dispose()

    asyncio.run(seed())


def test_mutated_samples_never_fail_the_server(database_url, tmp_path):
    """On SQLite and PostgreSQL (which refuses NUL characters and over-long index keys)."""
    seed_database(database_url)
    log = tmp_path / "server.log"
    port = free_port()
    proc = start_server(database_url, port, log=log)
    rng = random.Random(SEED)
    samples = sorted(load_samples().values(), key=lambda s: s.id)
    statuses: dict[int, int] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as client:
            baseline = rss(proc.pid, "VmRSS")
            for case in range(CASES):
                sample = rng.choice(samples)
                sample_body = recent(sample)
                headers = {k: v for k, v in sample.headers if k.lower() not in ("host", "content-length")}
                body, headers, query, done = mutate(rng, sample_body, headers, sample.query)
                url = sample.path + (f"?{query}" if query else "")
                started = time.perf_counter()
                r = client.post(url, content=body, headers=headers)
                elapsed = time.perf_counter() - started
                context = (case, sample.id, done, r.status_code, r.text[:200])
                assert r.status_code < 500, context
                assert elapsed < LATENCY_BOUND, (*context, elapsed)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            peak = rss(proc.pid, "VmHWM") - baseline
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = Path(log).read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]
    assert peak < RSS_BOUND, peak
    # The mutations reach every layer: accepted, framing errors, auth, limits, encodings.
    print(json.dumps({"statuses": statuses, "peak_extra_rss_mib": round(peak / 2**20, 1)}))
    assert {200, 400, 401, 403, 413, 415} <= set(statuses), statuses
