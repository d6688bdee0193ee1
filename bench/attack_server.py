"""The attack harness's server side: databases, accounts made through the CLI, a real
`relhealth serve` process per attack, and its memory sampled from /proc.

Each attack gets a fresh server on a copy of a template database (SQLite file copy, or
PostgreSQL `CREATE DATABASE ... TEMPLATE`), so peak RSS and database growth belong to that
attack alone, and an attack that wedges the server does not spoil the next one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.attack_http import HOST, request
from bench.dataset import pg_admin, pg_url
from bench.run import free_port

ROOT = Path(__file__).resolve().parents[1]
ORG = "attack"
OTHER_ORG = "other"
MIB = 1024 * 1024


# -- accounts through the command line ---------------------------------------------------


def cli(*args: str, database_url: str, timeout: float = 120) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *args, "--database-url", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "RELHEALTH_RETENTION_INTERVAL_SECONDS": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"relhealth {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")
    return proc.stdout


@dataclass(frozen=True)
class ProjectRef:
    id: int
    key: str


def create_project(database_url: str, org: str, slug: str) -> ProjectRef:
    out = cli("projects", "create", org, slug, database_url=database_url)
    pid = re.search(r"project id: (\d+)", out)
    key = re.search(r"DSN: \w+://([0-9a-f]+)@", out)
    if not pid or not key:
        raise RuntimeError(f"unexpected output of `relhealth projects create`: {out!r}")
    return ProjectRef(int(pid.group(1)), key.group(1))


def create_token(database_url: str, org: str, *scopes: str) -> str:
    return cli("tokens", "create", org, "--scope", *scopes, database_url=database_url).strip()


@dataclass(frozen=True)
class Accounts:
    """What every attack gets: the attacked project, a victim project of the same
    organization, tokens, and a second organization (cross-tenant probes)."""

    web: ProjectRef
    victim: ProjectRef
    token: str
    other: ProjectRef
    other_token: str


def create_accounts(database_url: str) -> Accounts:
    web = create_project(database_url, ORG, "web")
    victim = create_project(database_url, ORG, "victim")
    token = create_token(database_url, ORG, "org:read", "org:write")
    other = create_project(database_url, OTHER_ORG, "web")
    other_token = create_token(database_url, OTHER_ORG, "org:read", "org:write")
    return Accounts(web, victim, token, other, other_token)


# -- databases ---------------------------------------------------------------------------


class Databases:
    """Template databases and their per-attack copies, on one backend."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.prefix = f"relhealth_attacks_{os.getpid()}"
        self.created: list[str] = []

    def url(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.workdir / name}.db"
        return pg_url(f"{self.prefix}_{name}")

    async def create_empty(self, name: str) -> str:
        if self.backend == "postgres":
            db = f"{self.prefix}_{name}"
            await pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await pg_admin(f'CREATE DATABASE "{db}"')
            self.created.append(db)
        return self.url(name)

    async def copy(self, template: str, name: str) -> str:
        if self.backend == "sqlite":
            src, dst = self.workdir / f"{template}.db", self.workdir / f"{name}.db"
            with contextlib.closing(sqlite3.connect(src)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for suffix in ("-wal", "-shm"):
                Path(f"{dst}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(src, dst)
        else:
            db = f"{self.prefix}_{name}"
            await pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await pg_admin(f'CREATE DATABASE "{db}" TEMPLATE "{self.prefix}_{template}"')
            self.created.append(db)
        return self.url(name)

    async def drop(self, name: str) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.workdir / name}.db{suffix}").unlink(missing_ok=True)
        else:
            db = f"{self.prefix}_{name}"
            with contextlib.suppress(Exception):
                await pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            if db in self.created:
                self.created.remove(db)

    async def drop_all(self) -> None:
        for db in list(self.created):
            await self.drop(db.removeprefix(f"{self.prefix}_"))

    async def size(self, name: str) -> int | None:
        """Bytes on disk (SQLite file + WAL) or `pg_database_size`."""
        if self.backend == "sqlite":
            return sum(
                p.stat().st_size
                for suffix in ("", "-wal")
                if (p := Path(f"{self.workdir / name}.db{suffix}")).exists()
            )
        return await _pg_fetch(f"SELECT pg_database_size('{self.prefix}_{name}')")

    async def count(self, name: str, sql: str) -> int | None:
        """One integer from the attack's database (series counts)."""
        if self.backend == "sqlite":
            with contextlib.closing(sqlite3.connect(self.workdir / f"{name}.db", timeout=30)) as conn:
                return int(conn.execute(sql).fetchone()[0])
        return await _pg_fetch(sql, f"{self.prefix}_{name}")


async def _pg_fetch(sql: str, database: str = "postgres") -> int | None:
    import asyncpg

    from bench.dataset import PG_ADMIN

    conn = await asyncpg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + database)
    try:
        value = await conn.fetchval(sql)
        return None if value is None else int(value)
    finally:
        await conn.close()


# -- the server process ------------------------------------------------------------------


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB (empty once it is gone)."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


class RssSampler(threading.Thread):
    """Samples VmRSS every `interval` seconds in a thread (the harness's event loop may
    be busy); the peak is the largest sample or VmHWM, whichever is larger."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid).get("VmRSS", 0))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=5)
        return max(self.peak_kib, rss_kib(self.pid).get("VmHWM", 0))


#: Servers still running, killed at exit whatever happens to the harness.
_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_live() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(OSError):
            proc.kill()


class ServerProcess:
    """`relhealth serve` on 127.0.0.1 with one worker: the process we start is the one that
    serves (uvicorn runs in it), so its /proc status is the server's memory."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            "w+", prefix="attacks-server-", suffix=".log", delete=False
        )
        env = {
            **os.environ,
            "RELHEALTH_RETENTION_INTERVAL_SECONDS": "0",
            # The dashboard origin of `cors_preflight` (ignored by servers without CORS).
            "RELHEALTH_CORS_ALLOWED_ORIGINS": "http://dashboard.example",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "serve",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--database-url",
                database_url,
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _LIVE.add(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    async def wait_ready(self, limit: float = 120) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"server exited:\n{self.log_tail()}")
            reply = await request(self.port, "GET", "/readyz")
            if reply.status == 200:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"server not ready after {limit} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return Path(self.log.name).read_text()[-chars:]
        return ""

    def errors_logged(self) -> int:
        """Tracebacks in the server log (500s and crashed background tasks)."""
        return self.log_tail(10**8).count("Traceback (most recent call last)")

    def stop(self, grace: float = 5) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        _LIVE.discard(self.proc)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
