"""Bulk import: validation without the time window, rejected lines with numbers and
reasons, and the idempotency rule (re-runs and resumed imports never count twice)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs.importer import run_import
from server.settings import Settings
from storage.engine import create_engine
from storage.store import SessionStore
from storage.types import HOUR, AggregateQuery, Quantity

ROOT = Path(__file__).resolve().parents[1]


def _session(project, sid, started="2024-01-10T12:00:00Z", **extra):
    record = {
        "type": "session",
        "org": "acme",
        "project": project,
        "sid": sid,
        "init": True,
        "started": started,
        "status": "exited",
        "attrs": {"release": "app@1.0"},
    }
    record.update(extra)
    return json.dumps(record)


LINES = [
    _session("web", "00000000000040008000000000000001", did="u1"),  # 1 ok, by slug
    _session(11, "00000000000040008000000000000002", status="crashed", did="u2"),  # 2 ok, by id
    "{not json",  # 3 invalid_json
    _session("nope", "00000000000040008000000000000003"),  # 4 unknown_project
    _session("web", "00000000000040008000000000000004", attrs={"release": "latest"}),  # 5 invalid_release
    json.dumps(
        {
            "type": "sessions",
            "org": "acme",
            "project": "web",
            "attrs": {"release": "app@1.0", "environment": "production"},
            "aggregates": [{"started": "2024-01-10T12:05:00Z", "exited": 5, "crashed": 1}],
        }
    ),  # 6 ok
    "",  # 7 blank
    # 8: legacy export without init and seq 0 counts as the initial update (ingest.md 15.2)
    json.dumps(
        {
            "type": "session",
            "org": "acme",
            "project": "web",
            "seq": 0,
            "sid": "00000000000040008000000000000005",
            "started": "2024-01-10T13:00:00Z",
            "status": "exited",
            "attrs": {"release": "app@1.0"},
        }
    ),
    json.dumps({"type": "session", "org": "other", "project": "web"}),  # 9 unknown org
    _session("web", "00000000000040008000000000000006", status="paused"),  # 10 unknown_status
]


async def _totals(store: SessionStore, project_id: int = 11):
    result = await store.aggregate(
        AggregateQuery(
            project_ids=(project_id,),
            start=0,
            end=2_000_000_000,
            granularity=HOUR,
            quantities=frozenset(Quantity),
        )
    )
    return next(iter(result.totals.values()), None)


async def test_import_report_and_numbers(make_app, database_url):
    app = await make_app(Settings(database_url=database_url))
    await app.services.accounts.create_project("acme", "web", 11)
    s = app.services
    report = await run_import(
        [line.encode() for line in LINES],
        import_id="t1",
        store=s.store,
        accounts=s.accounts,
        received_at=time.time(),
    )
    assert report.lines == 10
    assert report.accepted == 4
    assert [(r.line_no, r.reason) for r in report.rejected] == [
        (3, "invalid_json"),
        (4, "unknown_project"),
        (5, "invalid_release"),
        (9, "unknown_organization"),
        (10, "unknown_status"),
    ]
    agg = await _totals(s.store)
    # Lines 1, 2, 8 start one session each; line 6 adds 5 + 1 = 6; 2 years old is fine.
    assert agg.counters.started == 9
    assert agg.counters.crashed == 2  # line 2 and the aggregate's crashed bucket entry
    assert agg.counters.errored_preaggr == 1
    assert agg.errored_set == 1  # line 2's sid
    assert agg.users.all == 2 and agg.users.crashed == 1
    outcomes = {(t, k, r): n for p, t, k, r, n in await s.store.outcome_totals()}
    assert outcomes[("session", "dropped", "invalid_release")] == 1
    assert outcomes[("session", "dropped", "unknown_status")] == 1
    assert outcomes[("session", "accepted", "")] == 3
    assert outcomes[("sessions", "accepted", "")] == 1

    again = await run_import(
        [line.encode() for line in LINES],
        import_id="t1",
        store=s.store,
        accounts=s.accounts,
        received_at=time.time(),
    )
    assert (again.accepted, again.skipped, again.rejected) == (0, 10, [])
    assert (await _totals(s.store)).counters.started == 9

    grown = [*LINES, _session("web", "00000000000040008000000000000007")]
    more = await run_import(
        [line.encode() for line in grown],
        import_id="t1",
        store=s.store,
        accounts=s.accounts,
        received_at=time.time(),
    )
    assert (more.accepted, more.skipped) == (1, 10)
    assert (await _totals(s.store)).counters.started == 10


async def test_interrupted_import_resumes_without_double_counting(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url))
    await app.services.accounts.create_project("acme", "web", 11)
    s = app.services
    lines = [_session("web", f"{i:032x}").encode() for i in range(1, 501)]

    class Interrupted(Exception):
        pass

    def stop_after_two_chunks(n: int) -> None:
        if n >= 200:
            raise Interrupted

    with pytest.raises(Interrupted):
        await run_import(
            lines,
            import_id="big",
            store=s.store,
            accounts=s.accounts,
            received_at=time.time(),
            chunk_lines=100,
            progress=stop_after_two_chunks,
        )
    assert (await _totals(s.store)).counters.started == 200
    resumed = await run_import(
        lines, import_id="big", store=s.store, accounts=s.accounts, received_at=time.time(), chunk_lines=100
    )
    assert (resumed.accepted, resumed.skipped) == (300, 200)
    assert (await _totals(s.store)).counters.started == 500


def _started(url: str) -> int:
    async def read() -> int:
        engine = create_engine(url)
        try:
            agg = await _totals(SessionStore(engine))
            return agg.counters.started if agg else 0
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_import_killed_with_sigkill_then_rerun(database_url, tmp_path):
    """A real `relhealth import` process killed mid-way; running the same command again
    completes the import and every line counts exactly once."""
    n = 60_000
    path = tmp_path / "sessions.jsonl"
    path.write_text("\n".join(_session("web", f"{i:032x}") for i in range(1, n + 1)) + "\n")
    env = {**os.environ}
    cmd = [sys.executable, "-m", "cli.main"]
    created = subprocess.run(
        [*cmd, "projects", "create", "acme", "web", "--id", "11", "--database-url", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    proc = subprocess.Popen(
        [*cmd, "import", str(path), "--database-url", database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # progress lines: "  2000 lines", ...
        if line.strip().endswith("lines") and int(line.split()[0]) >= 10_000:
            break
    workers = _children(proc.pid)  # the parse workers (RELHEALTH_IMPORT_WORKERS, default 2)
    assert workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # The workers notice their importer is gone and exit: a killed import leaves no orphans.
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()
    partial = _started(database_url)
    assert 10_000 <= partial < n
    rerun = subprocess.run(
        [*cmd, "import", str(path), "--database-url", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{n - partial} accepted" in rerun.stdout and f"{partial} already imported" in rerun.stdout
    assert _started(database_url) == n


async def test_import_api(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url))
    acc = app.services.accounts
    await acc.create_project("acme", "web", 11)
    await acc.create_project("globex", "shop", 12)
    writer = await acc.create_token("acme", ["org:write"])
    reader = await acc.create_token("acme", ["org:read"])
    body = "\n".join(LINES[:2] + [json.dumps({**json.loads(LINES[0]), "org": "globex", "project": "shop"})])
    url = "/api/0/organizations/acme/sessions/import/"
    r = await app.client.post(url, content=body, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403
    r = await app.client.post(url, content=body)
    assert r.status_code == 401
    r = await app.client.post(
        "/api/0/organizations/globex/sessions/import/",
        content=body,
        headers={"Authorization": f"Bearer {writer}"},
    )
    assert r.status_code == 403
    r = await app.client.post(url, content=body, headers={"Authorization": f"Bearer {writer}"})
    assert r.status_code == 200
    report = r.json()
    assert report["accepted"] == 2
    assert report["rejected"] == [
        {"line": 3, "reason": "organization_mismatch", "detail": "org 'globex', project 'shop'"}
    ]
    r = await app.client.post(url, content=body, headers={"Authorization": f"Bearer {writer}"})
    assert r.json()["accepted"] == 0 and r.json()["skipped"] == 3
    assert (await _totals(app.services.store)).counters.started == 2
