"""Several server processes ingesting into one database at once, with exact totals.

Two `relhealth serve` processes and one `relhealth serve --workers 2` start together on a
fresh PostgreSQL database (they create the schema concurrently), then a few thousand
envelopes are sent concurrently to all of them: overlapping projects, releases,
environments, users and session ids (updates of one session go to different processes,
in any order). The stored totals per (project, release, environment), at every stored
granularity, must equal what the test computes from the envelopes that were answered 200
(release-health.md 2.3 / 2.4). A smaller run shares one SQLite file between two processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.store import SessionStore
from storage.types import DAY, GRANULARITIES, AggregateQuery, Quantity
from tests.conftest import PG_ADMIN_URL, _require_postgres, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

RELEASES = ("app@1.0.0", "app@1.1.0", "api@2.0.0")
ENVIRONMENTS = ("production", "staging", None)
#: project id -> organization slug; projects 1 and 2 share an organization.
PROJECTS = {1: "acme", 2: "acme", 3: "globex"}

Key = tuple[int, str, str | None]


@dataclass
class Totals:
    started: int = 0
    crashed: int = 0
    abnormal: int = 0
    errored_preaggr: int = 0
    error_sids: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    crashed_users: set[str] = field(default_factory=set)
    durations: int = 0

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.started,
            self.crashed,
            self.abnormal,
            self.errored_preaggr,
            len(self.error_sids),
            len(self.users),
            len(self.crashed_users),
            self.durations,
        )


@dataclass
class Item:
    """One envelope item and what it adds when accepted (computed here, independently)."""

    project: int
    kind: str  # "session" or "sessions"
    payload: dict[str, object]

    def apply(self, expected: dict[Key, Totals]) -> None:
        p = self.payload
        attrs = p["attrs"]
        assert isinstance(attrs, dict)
        t = expected.setdefault((self.project, attrs["release"], attrs.get("environment")), Totals())
        if self.kind == "sessions":
            aggregates = p["aggregates"]
            assert isinstance(aggregates, list)
            for b in aggregates:
                total = sum(b.get(k, 0) for k in ("exited", "errored", "abnormal", "crashed"))
                bad = total - b.get("exited", 0)
                t.started += total
                t.errored_preaggr += bad
                t.crashed += b.get("crashed", 0)
                t.abnormal += b.get("abnormal", 0)
                if "did" in b:
                    t.users.add(b["did"])
                    if b.get("crashed", 0):
                        t.crashed_users.add(b["did"])
            return
        status, did = p["status"], p.get("did")
        if p["init"]:
            t.started += 1
        if p["errors"] or status not in ("ok", "exited"):  # type: ignore[operator]
            t.error_sids.add(str(p["sid"]))
        if did is not None:
            t.users.add(str(did))
        if status == "crashed":
            t.crashed += 1
            if did is not None:
                t.crashed_users.add(str(did))
        if status == "abnormal":
            t.abnormal += 1
        if status == "exited" and "duration" in p:
            t.durations += 1


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int, sessions: int, aggregates: int, now: float) -> list[Item]:
    rng = random.Random(seed)
    users = [f"user-{i}" for i in range(150)]
    items: list[Item] = []
    for _ in range(sessions):
        project = rng.choice(list(PROJECTS))
        attrs: dict[str, object] = {"release": rng.choice(RELEASES)}
        if (env := rng.choice(ENVIRONMENTS)) is not None:
            attrs["environment"] = env
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        did = rng.choice(users) if rng.random() < 0.9 else None
        started = int(now - rng.uniform(120, 3 * 3600))
        base: dict[str, object] = {"sid": sid, "started": _iso(started), "attrs": attrs}
        if did is not None:
            base["did"] = did
        updates = [{**base, "init": True, "seq": 0, "timestamp": _iso(started), "status": "ok", "errors": 0}]
        if rng.random() < 0.4:
            updates.append(
                {
                    **base,
                    "init": False,
                    "seq": 1,
                    "timestamp": _iso(started + 30),
                    "status": "ok",
                    "errors": rng.choice([0, 1, 2]),
                }
            )
        final = rng.choice(["exited", "exited", "exited", "crashed", "abnormal", "errored", None])
        if final is not None:
            update = {
                **base,
                "init": False,
                "seq": 2,
                "timestamp": _iso(started + 60),
                "status": final,
                "errors": int(final != "exited"),
            }
            if final == "exited":
                update["duration"] = round(rng.uniform(1, 600), 3)
            updates.append(update)
        items.extend(Item(project, "session", u) for u in updates)
    for _ in range(aggregates):
        project = rng.choice(list(PROJECTS))
        attrs = {"release": rng.choice(RELEASES)}
        if (env := rng.choice(ENVIRONMENTS)) is not None:
            attrs["environment"] = env
        bucket: dict[str, object] = {
            "started": _iso(int(now - rng.uniform(120, 3 * 3600))),
            "exited": rng.randint(0, 5),
            "errored": rng.randint(0, 2),
            "crashed": rng.randint(0, 1),
        }
        if rng.random() < 0.5:
            bucket["did"] = rng.choice(users)
        items.append(Item(project, "sessions", {"attrs": attrs, "aggregates": [bucket]}))
    rng.shuffle(items)  # updates of one session arrive in any order, anywhere
    return items


def envelopes(items: list[Item], seed: int) -> list[tuple[int, list[Item]]]:
    rng = random.Random(seed)
    by_project: dict[int, list[Item]] = {}
    for item in items:
        by_project.setdefault(item.project, []).append(item)
    out: list[tuple[int, list[Item]]] = []
    for project, its in by_project.items():
        i = 0
        while i < len(its):
            n = rng.randint(1, 3)
            out.append((project, its[i : i + n]))
            i += n
    rng.shuffle(out)
    return out


def body(items: list[Item]) -> bytes:
    lines = [b"{}"]
    for item in items:
        lines.append(orjson.dumps({"type": item.kind}))
        lines.append(orjson.dumps(item.payload))
    return b"\n".join(lines) + b"\n"


# -- processes -------------------------------------------------------------------------------


def serve(url: str, port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--database-url", url, *extra],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RELHEALTH_RETENTION_INTERVAL_SECONDS": "0"},
        )


def wait_ready(procs: list[tuple[subprocess.Popen[bytes], int, Path]]) -> None:
    deadline = time.monotonic() + 90
    for proc, port, log in procs:
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1, trust_env=False)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not become ready:\n{log.read_text()}")
            time.sleep(0.1)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    accepted: dict[Key, Totals]
    statuses: Counter[int]
    items_accepted: Counter[int]
    seconds: float
    envelopes: int
    latencies: list[float]


async def setup_projects(url: str) -> dict[int, str]:
    engine = create_engine(url)
    try:
        accounts = AccountStore(engine)
        keys = {}
        for pid, org in PROJECTS.items():
            _, keys[pid] = await accounts.create_project(org, f"p{pid}", pid)
        return keys
    finally:
        await engine.dispose()


async def post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, key: str, data: bytes
) -> int:
    """One HTTP/1.1 request on a kept-alive connection, as SDK transports send envelopes.
    (A minimal client: httpx's own overhead, not the server, dominated the timings.)"""
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        f"X-Sentry-Auth: Sentry sentry_key={key}, sentry_version=7\r\n\r\n".encode()
        + data
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head.split(b" ", 2)[1])


async def send_all(
    ports: list[int], keys: dict[int, str], plan: list[tuple[int, list[Item]]], concurrency: int
) -> Run:
    """Send every envelope, `concurrency` connections spread over the ports. A transport
    error fails the test: its envelope may or may not have been counted."""
    expected: dict[Key, Totals] = {}
    statuses: Counter[int] = Counter()
    items_accepted: Counter[int] = Counter()
    latencies: list[float] = []
    todo = list(enumerate(plan))
    todo.reverse()

    async def worker(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while todo:
                _, (project, items) = todo.pop()
                sent = time.perf_counter()
                status = await asyncio.wait_for(
                    post(reader, writer, f"/api/{project}/envelope/", keys[project], body(items)), 60
                )
                latencies.append(time.perf_counter() - sent)
                statuses[status] += 1
                if status == 200:
                    for item in items:
                        item.apply(expected)
                        items_accepted[item.project] += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(ports[i % len(ports)]) for i in range(concurrency)))
    seconds = time.perf_counter() - began
    return Run(expected, statuses, items_accepted, seconds, len(plan), sorted(latencies))


async def stored_totals(url: str, now: float) -> tuple[dict[int, dict[Key, tuple[int, ...]]], Counter[int]]:
    """Stored totals per (project, release, environment), read at every granularity, and
    the accepted-item counters per project."""
    engine = create_engine(url)
    try:
        store = SessionStore(engine)
        lo = int(now - 2 * DAY) // DAY * DAY
        hi = (int(now) // DAY + 2) * DAY
        per_granularity: dict[int, dict[Key, tuple[int, ...]]] = {}
        for g in GRANULARITIES:
            result = await store.aggregate(
                AggregateQuery(
                    project_ids=tuple(PROJECTS),
                    start=lo,
                    end=hi,
                    granularity=g,
                    quantities=frozenset(Quantity),
                    group_by=("project_id", "release", "environment"),
                )
            )
            per_granularity[g] = {
                (k.project_id, k.release, k.environment): (  # type: ignore[misc]
                    a.counters.started,
                    a.counters.crashed,
                    a.counters.abnormal,
                    a.counters.errored_preaggr,
                    a.errored_set,
                    a.users.all,
                    a.users.crashed,
                    a.durations.count,
                )
                for k, a in result.totals.items()
            }
        accepted: Counter[int] = Counter()
        for project, _item_type, kind, _reason, n in await store.outcome_totals():
            if kind == "accepted":  # items, and buckets of `sessions` items: one per item here
                accepted[project] += n
        return per_granularity, accepted
    finally:
        await engine.dispose()


def check(run: Run, stored: dict[int, dict[Key, tuple[int, ...]]], accepted: Counter[int]) -> None:
    expected = {k: t.as_tuple() for k, t in run.accepted.items()}
    assert expected, "nothing was accepted"
    for g, totals in stored.items():
        assert totals == expected, f"granularity {g}"
    assert accepted == run.items_accepted


async def check_api(port: int, url: str, run: Run) -> None:
    """Per project of one organization, sessions and distinct users through the REST API."""
    engine = create_engine(url)
    try:
        token = await AccountStore(engine).create_token("acme", ["org:read"])
    finally:
        await engine.dispose()
    params = [
        ("project", "1"),
        ("project", "2"),
        ("field", "sum(session)"),
        ("field", "count_unique(user)"),
        ("groupBy", "project"),
        ("statsPeriod", "1d"),
        ("interval", "1d"),
    ]
    async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
        r = await client.get(
            f"http://127.0.0.1:{port}/api/0/organizations/acme/sessions/",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    got = {g["by"]["project"]: g["totals"] for g in r.json()["groups"]}
    want = {}
    for project in (1, 2):
        mine = [t for (p, _, _), t in run.accepted.items() if p == project]
        want[project] = {
            "sum(session)": sum(t.started for t in mine),
            "count_unique(user)": len(set().union(*(t.users for t in mine))),
        }
    assert got == want


def report(name: str, run: Run) -> None:
    rate = run.envelopes / run.seconds
    print(
        f"\n{name}: {run.envelopes} envelopes ({sum(run.items_accepted.values())} items "
        f"accepted) in {run.seconds:.2f} s = {rate:.0f} envelopes/s; statuses {dict(run.statuses)}; "
        f"latency p50 {run.latencies[len(run.latencies) // 2] * 1000:.0f} ms, "
        f"max {run.latencies[-1] * 1000:.0f} ms"
    )


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A database of its own (never the shared test database), dropped afterwards."""
    _require_postgres()
    import asyncpg

    name = f"relhealth_mp_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_three_servers_one_postgres(fresh_postgres, processes, tmp_path):
    url = fresh_postgres
    ports = [free_port(), free_port(), free_port()]
    # All three start at once on an empty database: they race to create the schema.
    launched = [
        (serve(url, ports[0], tmp_path / "a.log"), ports[0], tmp_path / "a.log"),
        (serve(url, ports[1], tmp_path / "b.log"), ports[1], tmp_path / "b.log"),
        (serve(url, ports[2], tmp_path / "c.log", "--workers", "2"), ports[2], tmp_path / "c.log"),
    ]
    processes.extend(p for p, _, _ in launched)
    wait_ready(launched)
    keys = asyncio.run(setup_projects(url))
    now = time.time()
    items = generate(seed=7, sessions=2000, aggregates=300, now=now)
    plan = envelopes(items, seed=8)
    assert len(plan) >= 2000
    run = asyncio.run(send_all(ports, keys, plan, concurrency=48))
    report("postgres, 2 servers + 1 server with 2 workers", run)
    assert set(run.statuses) == {200}, run.statuses  # PostgreSQL: no 503 under contention
    stored, accepted = asyncio.run(stored_totals(url, now))
    check(run, stored, accepted)
    asyncio.run(check_api(ports[2], url, run))
    logs = "".join(log.read_text() for _, _, log in launched)
    assert "Traceback" not in logs, logs


# -- SQLite ------------------------------------------------------------------------------------


def test_two_servers_one_sqlite_file(processes, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    # The schema first: two processes creating an empty SQLite file at the same instant
    # race (SQLite DDL is not one transaction: one can see the other's tables before its
    # version row). Concurrent ingestion is what this test is about.
    migrated = subprocess.run(
        [sys.executable, "-m", "cli.main", "migrate", "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    ports = [free_port(), free_port()]
    launched = [
        (serve(url, ports[0], tmp_path / "a.log"), ports[0], tmp_path / "a.log"),
        (serve(url, ports[1], tmp_path / "b.log"), ports[1], tmp_path / "b.log"),
    ]
    processes.extend(p for p, _, _ in launched)
    wait_ready(launched)
    keys = asyncio.run(setup_projects(url))
    now = time.time()
    items = generate(seed=11, sessions=700, aggregates=100, now=now)
    plan = envelopes(items, seed=12)
    run = asyncio.run(send_all(ports, keys, plan, concurrency=32))
    report("sqlite, 2 servers sharing one file", run)
    # 503 (nothing counted) is the documented answer when the store cannot be written; those
    # envelopes are not in the expected totals. Nothing else is acceptable.
    assert set(run.statuses) <= {200, 503}, run.statuses
    assert run.statuses[200] >= 0.9 * run.envelopes, run.statuses
    stored, accepted = asyncio.run(stored_totals(url, now))
    check(run, stored, accepted)
