"""The benchmark dataset: a deterministic simulation of an organization's release health.

Five projects (a browser app, two mobile apps, two server apps) ship their releases at
roughly even intervals over the window; each new release ramps up along an S-curve in
production a day after staging (two after development), takes over the traffic, and
leaves a tail of stragglers behind (mobile users lag). Traffic follows the time of day and
the day of the week. Browser and mobile projects send individual sessions (an `init`
update, a handled error now and then, then `exited` with a duration, `crashed` or
`abnormal`), one user per installation; server projects send per-minute aggregate
buckets without users. Two mobile releases are bad (a crash spike) and hotfixed.

Everything is drawn from `random.Random` seeded per project, relative to the dataset's
`now` (its generation time): the same size and seed give the same data. Each simulated
session is a sequence of the updates an SDK sends (aggregate buckets for servers), turned
into exactly the increments ingest writes for them by `ingest.simulate`, and those go through
`SessionStore.apply` (the production write path), so the stored rows are what a server
that had received these sessions would hold.

The database is cached under `bench/.data/` keyed by backend, size, seed and
`DATASET_VERSION`; a manifest written after a complete load marks it usable.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.simulate import aggregate_bucket, session_update
from jobs.demo import poisson, random_uuid
from storage.schema import migrate
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    OutcomeIncrement,
    SessionIncrement,
    WriteBatch,
)

#: Bump when the simulation or the stored layout changes (5: 64 KiB SQLite pages): cached
#: databases of another version are not reused.
DATASET_VERSION = 5
#: The dataset's "now" is the generation time (on the minute, plus 30 s so that windows
#: are widened as for a live query); queries pass it explicitly, so a cached database
#: answers the same numbers on every run. Retention is judged by the server clock, so a
#: cache older than `MAX_AGE_DAYS` is regenerated.
MAX_AGE_DAYS = 30
ORG = "bench"
#: Increments per `SessionStore.apply` call while loading.
LOAD_BATCH = 60_000

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = ROOT / ".data"


@dataclass(frozen=True, slots=True)
class Size:
    name: str
    days: int
    releases_per_project: int
    sessions: int  # total sessions, all projects and environments
    users: int  # distinct users over the individual-session projects


SIZES: dict[str, Size] = {
    "small": Size("small", days=14, releases_per_project=8, sessions=40_000, users=4_000),
    "medium": Size("medium", days=90, releases_per_project=40, sessions=10_000_000, users=500_000),
}


@dataclass(frozen=True, slots=True)
class Profile:
    slug: str
    mode: str  # "browser" | "mobile" | "server"
    session_share: float  # of all sessions
    user_share: float  # of all users
    peak_hour: int
    weekend: float
    ramp_hours: float
    ceiling: float
    crash: float
    abnormal: float
    errored: float
    anonymous: float
    median_duration: float
    bad_release: int | None = None  # index from the end: -8 is the 8th newest
    bad_crash: float = 0.0
    #: Share of the traffic from stragglers who update late (old devices, disabled auto
    #: updates, a few old server instances): spread over recent releases by age.
    legacy: float = 0.0


PROFILES: tuple[Profile, ...] = (
    Profile("web", "browser", 0.18, 0.50, 15, 0.7, 10, 0.995, 0.002, 0.0, 0.04, 0.15, 240, legacy=0.02),
    Profile(
        "ios",
        "mobile",
        0.10,
        0.22,
        19,
        1.15,
        40,
        0.93,
        0.004,
        0.002,
        0.02,
        0.0,
        120,
        bad_release=-6,
        bad_crash=0.12,
        legacy=0.08,
    ),
    Profile(
        "android",
        "mobile",
        0.10,
        0.28,
        20,
        1.2,
        44,
        0.92,
        0.006,
        0.004,
        0.03,
        0.0,
        100,
        bad_release=-3,
        bad_crash=0.19,
        legacy=0.10,
    ),
    Profile("api", "server", 0.45, 0.0, 14, 0.55, 6, 1.0, 0.0008, 0.0, 0.015, 1.0, 0, legacy=0.005),
    Profile("worker", "server", 0.17, 0.0, 3, 0.9, 3, 1.0, 0.003, 0.0, 0.05, 1.0, 0, legacy=0.01),
)

ENVIRONMENTS: tuple[tuple[str, float, float, float | None, bool], ...] = (
    # name, traffic relative to production, lead hours, own ramp hours, team-only users
    ("production", 1.0, 0.0, None, False),
    ("staging", 0.05, 24.0, 2.0, True),
    ("development", 0.004, 48.0, 1.0, True),
)
TEAM_SIZE = 25
#: Stragglers' traffic on a release decays with its age with this time constant.
LEGACY_DAYS = 10.0


def version_name(slug: str, i: int) -> str:
    return f"{slug}@{1 + i // 10}.{i % 10}.0"


@dataclass
class Manifest:
    """What the benchmark needs to know about a loaded dataset."""

    backend: str
    size: str
    seed: int
    version: int
    now: int
    days: int
    org: str
    token: str
    projects: list[dict[str, Any]]  # id, slug, key
    releases: int
    sessions: int
    updates: int  # session updates + aggregate buckets written
    users: int  # distinct users
    load_seconds: float
    database_url: str
    detail_release: list[Any]  # [project id, version]: the release of the details page

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


# -- the simulation ----------------------------------------------------------------


class _Project:
    def __init__(self, pid: int, profile: Profile, size: Size, seed: int, start: int, end: int) -> None:
        self.id = pid
        self.p = profile
        self.rng = rng = random.Random(f"relhealth-bench:{seed}:{profile.slug}")
        n = size.releases_per_project
        self.versions = [version_name(profile.slug, i) for i in range(n)]
        # Production ship times: the first release is established before the window, the
        # newest ships about a day before `end`; a bad release's hotfix follows in a day.
        step = (end - start - DAY) / max(1, n - 1)
        ships = [start - 5.0 * DAY]
        for k in range(1, n):
            ships.append(start + k * step - rng.uniform(0.0, 0.3) * step)
        self.bad = None
        if profile.bad_release is not None and n >= -profile.bad_release + 1:
            k = n + profile.bad_release
            self.bad = k
            ships[k + 1] = ships[k] + min(20 * HOUR, 0.8 * step)
        self.ships = ships
        self.quality = [rng.uniform(0.5, 1.6) for _ in range(n)]
        n_users = round(size.users * profile.user_share)
        self.users = [random_uuid(rng) for _ in range(n_users)]
        self.team = [random_uuid(rng) for _ in range(TEAM_SIZE)] if n_users else []
        self.day_noise = [rng.uniform(0.85, 1.15) for _ in range(size.days + 2)]
        self.start = start
        self.end = end
        self.per_hour = 0.0  # set by `_normalize`

    def traffic(self, t: float) -> float:
        """Relative production traffic at `t` (scaled by `per_hour`)."""
        p = self.p
        hour_of_day = (t % DAY) / HOUR
        diurnal = 1.0 + 0.6 * math.cos(2 * math.pi * (hour_of_day - p.peak_hour) / 24)
        weekend = p.weekend if datetime.fromtimestamp(t, UTC).weekday() >= 5 else 1.0
        growth = 1.0 + 0.2 * (t - self.start) / max(1, self.end - self.start)
        noise = self.day_noise[min(len(self.day_noise) - 1, int(t - self.start) // DAY)]
        return diurnal * weekend * growth * noise

    def shares(self, t: float, lead: float, ramp_hours: float, ceiling: float) -> list[float]:
        """Traffic share per release at `t` (an S-curve per release; newer ones take over
        what older ones had; with a ceiling below 1 a tail stays behind)."""
        tau = ramp_hours * HOUR / math.sqrt(3.0)
        shares = [0.0] * len(self.ships)
        rest = 1.0
        for j in range(len(self.ships) - 1, -1, -1):
            age = t - (self.ships[j] - lead)
            if j == 0:
                a = 1.0
            elif age <= 0:
                a = 0.0
            else:
                a = ceiling * (1.0 - math.exp(-((age / tau) ** 2)))
            shares[j] = rest * a
            rest *= 1.0 - a
            if rest < 1e-7:
                break
        legacy = self.p.legacy
        if legacy and lead == 0.0:
            weights = [0.0] * len(self.ships)
            for j, ship in enumerate(self.ships):
                age = t - (ship - lead)
                if age > 0:
                    weights[j] = math.exp(-age / (LEGACY_DAYS * DAY))
            total = sum(weights)
            if total > 0:
                shares = [(1 - legacy) * s + legacy * w / total for s, w in zip(shares, weights, strict=True)]
        return shares


def _normalize(projects: list[_Project], size: Size, start: int, end: int) -> None:
    env_total = sum(e[1] for e in ENVIRONMENTS)
    for project in projects:
        weight = sum(project.traffic(h + HOUR / 2) for h in range(start, end, HOUR))
        target = size.sessions * project.p.session_share
        project.per_hour = target / (weight * env_total)


class Stats:
    def __init__(self) -> None:
        self.sessions = 0
        self.updates = 0
        self.releases: set[tuple[int, str]] = set()
        self.users: set[str] = set()


def simulate(
    project_ids: dict[str, int], size: Size, seed: int, stats: Stats, now: int
) -> Iterator[WriteBatch]:
    """Batches of about `LOAD_BATCH` increments, in chronological order."""
    end = now
    start = end - end % HOUR - size.days * DAY
    projects = [_Project(project_ids[p.slug], p, size, seed, start, end) for p in PROFILES]
    _normalize(projects, size, start, end)
    batch = WriteBatch()
    for hour in range(start, end, HOUR):
        span = min(HOUR, end - hour)
        mid = hour + span / 2
        for project in projects:
            before = len(batch.increments)
            rate = project.per_hour * project.traffic(mid) * span / HOUR
            for env, env_share, lead, own_ramp, team_only in ENVIRONMENTS:
                ramp = own_ramp if own_ramp is not None else project.p.ramp_hours
                ceiling = project.p.ceiling if own_ramp is None else 1.0
                shares = project.shares(mid, lead * HOUR, ramp, ceiling)
                for j, share in enumerate(shares):
                    expected = rate * env_share * share
                    if expected < 1e-3:
                        continue
                    if project.p.mode == "server":
                        n = _server_buckets(project, j, env, hour, span, expected, batch, stats)
                    else:
                        n = _sessions(project, j, env, team_only, hour, span, expected, end, batch, stats)
                    if n:
                        stats.releases.add((project.id, project.versions[j]))
            written = len(batch.increments) - before
            if written:
                item_type = "sessions" if project.p.mode == "server" else "session"
                batch.outcomes.append(OutcomeIncrement(project.id, item_type, "accepted", "", hour, written))
        if len(batch.increments) >= LOAD_BATCH:
            yield batch
            batch = WriteBatch()
    if batch:
        yield batch


def _sessions(
    project: _Project,
    j: int,
    env: str,
    team_only: bool,
    hour: int,
    span: int,
    expected: float,
    now: int,
    batch: WriteBatch,
    stats: Stats,
) -> int:
    """Individual sessions: the increments of `init`, a handled error, the final update."""
    p, rng = project.p, project.rng
    n = poisson(rng, expected)
    if not n:
        return 0
    pid, release = project.id, project.versions[j]
    quality = project.quality[j]
    crash = p.bad_crash if j == project.bad else p.crash * quality
    abnormal = p.abnormal * quality
    errored_p = p.errored * quality
    users, team = project.users, project.team
    n_users = len(users)
    append = batch.increments.append

    def out(increment: SessionIncrement | None) -> None:
        if increment is not None:
            append(increment)

    log_median = math.log(p.median_duration)
    random_ = rng.random
    seen_users = stats.users.add
    for _ in range(n):
        started = hour + random_() * span
        if team_only:
            user: str | None = team[int(random_() * len(team))]
        elif random_() < p.anonymous:
            user = None
        else:
            # Half uniform (every user shows up), half skewed towards heavy users.
            r = random_()
            k = int(random_() * n_users) if r < 0.5 else int((random_() ** 3) * n_users)
            user = users[k]
        if user is not None:
            seen_users(user)
        out(session_update(pid, release, started, environment=env, init=True, did=user))
        roll = random_()
        status = 0 if roll >= crash + abnormal else 1 if roll < crash else 2
        handled = random_() < errored_p
        duration = round(rng.lognormvariate(log_median, 1.0), 3)
        stats.sessions += 1
        stats.updates += 1
        if started + duration > now:
            continue  # still running
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if (handled or status) else None
        errors = 1 if handled else 0
        if handled:
            # `status: ok, errors: 1` mid-session
            out(session_update(pid, release, started, environment=env, sid=sid, errors=1, did=user))
            stats.updates += 1
        if status == 0:
            final = session_update(
                pid,
                release,
                started,
                environment=env,
                status="exited",
                sid=sid,
                errors=errors,
                did=user,
                duration=duration,
            )
        elif status == 1:
            final = session_update(
                pid, release, started, environment=env, status="crashed", sid=sid, errors=errors, did=user
            )
        else:
            m = random_()
            mechanism = "anr_foreground" if m < 0.6 else "anr_background" if m < 0.85 else None
            final = session_update(
                pid,
                release,
                started,
                environment=env,
                status="abnormal",
                sid=sid,
                errors=errors,
                did=user,
                abnormal_mechanism=mechanism,
            )
        out(final)
        stats.updates += 1
    return n


def _server_buckets(
    project: _Project,
    j: int,
    env: str,
    hour: int,
    span: int,
    expected: float,
    batch: WriteBatch,
    stats: Stats,
) -> int:
    """Per-minute aggregate buckets (what server SDKs flush), no users."""
    p, rng = project.p, project.rng
    release = project.versions[j]
    quality = project.quality[j]
    crash = p.crash * quality
    errored_p = p.errored * quality
    minutes = max(1, span // MINUTE)
    per_minute = expected / minutes
    total = 0
    if per_minute < 0.05:
        # Sparse traffic: draw the sessions, then their minutes.
        n = poisson(rng, expected)
        slots: dict[int, int] = {}
        for _ in range(n):
            m = hour + int(rng.random() * minutes) * MINUTE
            slots[m] = slots.get(m, 0) + 1
        items = sorted(slots.items())
    else:
        items = []
        for k in range(minutes):
            n = poisson(rng, per_minute)
            if n:
                items.append((hour + k * MINUTE, n))
    for slot, n in items:
        crashed = min(n, poisson(rng, n * crash))
        errored = min(n - crashed, poisson(rng, n * errored_p))
        bucket = aggregate_bucket(
            project.id,
            release,
            float(slot),
            environment=env,
            exited=n - crashed - errored,
            errored=errored,
            crashed=crashed,
        )
        if bucket is not None:
            batch.increments.append(bucket)
        total += n
        stats.updates += 1
    stats.sessions += total
    return total


# -- loading and caching -----------------------------------------------------------


def cache_key(backend: str, size: str, seed: int) -> str:
    return f"{backend}-{size}-seed{seed}-v{DATASET_VERSION}"


PG_ADMIN = os.environ.get("RELHEALTH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_url(database: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{database}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def pg_database_exists(name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def _migrated(cached: Manifest) -> Manifest:
    """A cached dataset brought to the code's schema: migrations that add tables (such as
    0008's persisted queries) leave its facts as they are, and a server refuses a store
    whose schema is behind. Then settled (`settle`), as a dataset cached before settling
    was not."""
    await migrate(cached.database_url)
    await settle(cached.database_url, cached.now)
    return cached


async def settle(url: str, now: int) -> None:
    """The store as a running server leaves it: the alert task's passes (every minute by
    default) until no late-data mark is left. The load writes every hour of 90 days after
    it ended, so ingest marks each (project, hour) for the alert evaluator
    (`storage.sql.late`); a server drains the marks of projects without rules at its
    first passes (`jobs.alert_replay`), 10,000 a pass. Without this the store measured
    would hold a queue no running server keeps. Idempotent: a settled store has no mark
    left."""
    from bench.quiet_app import quiet_app
    from storage import alert_history

    app = quiet_app(url)
    async with app.router.lifespan_context(app):
        services = app.state.services
        task = services.alert_task()
        while await alert_history.marks(services.engine, limit=1):
            if (await task.run_once(at=now)).transitions is None:
                raise RuntimeError("another process holds the alert evaluator's lock")


async def ensure_dataset(
    backend: str,
    size_name: str,
    seed: int,
    data_dir: Path,
    log: Callable[[str], None] = lambda s: None,
) -> Manifest:
    """The cached dataset's manifest, generating and loading it first when needed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(backend, size_name, seed)
    manifest_path = data_dir / f"{key}.json"
    if backend == "sqlite":
        db_path = data_dir / f"{key}.db"
        if manifest_path.exists() and db_path.exists():
            cached = Manifest(**json.loads(manifest_path.read_text()))
            if time.time() - cached.now < MAX_AGE_DAYS * DAY:
                return await _migrated(cached)
        tmp = data_dir / f"{key}.loading.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{tmp}"
    else:
        dbname = f"relhealth_bench_{key.replace('-', '_')}"
        if manifest_path.exists() and await pg_database_exists(dbname):
            cached = Manifest(**json.loads(manifest_path.read_text()))
            if time.time() - cached.now < MAX_AGE_DAYS * DAY:
                return await _migrated(cached)
        await pg_admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await pg_admin(f'CREATE DATABASE "{dbname}"')
        url = pg_url(dbname)
    manifest_path.unlink(missing_ok=True)
    log(f"generating the {size_name} dataset ({backend}, seed {seed}); cached for later runs")
    manifest = await load_dataset(url, backend, SIZES[size_name], seed, log)
    await settle(url, manifest.now)
    if backend == "sqlite":
        for suffix in ("-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        os.replace(tmp, db_path)
        manifest.database_url = f"sqlite+aiosqlite:///{db_path}"
    manifest_path.write_text(manifest.to_json())
    return manifest


async def load_dataset(url: str, backend: str, size: Size, seed: int, log: Callable[[str], None]) -> Manifest:
    from sqlalchemy import text

    from server.settings import Settings
    from storage.accounts import AccountStore
    from storage.engine import create_engine
    from storage.schema import ensure_schema
    from storage.store import SessionStore

    started = time.perf_counter()
    now = int(time.time()) // MINUTE * MINUTE + 30
    engine = create_engine(url)
    try:
        await ensure_schema(engine)
        accounts = AccountStore(engine)
        # As a server with the default settings stores it: minute rows only within the
        # minute retention (30 days) of the dataset's `now`.
        retention = Settings().minute_retention_days * DAY
        store = SessionStore(engine, minute_retention=retention, now=lambda: now)
        projects = []
        for profile in PROFILES:
            info, key = await accounts.create_project(ORG, profile.slug)
            projects.append({"id": info.id, "slug": profile.slug, "key": key})
        token = await accounts.create_token(ORG, ["org:read", "org:write"])
        ids = {p["slug"]: p["id"] for p in projects}
        stats = Stats()
        pending: asyncio.Task[None] | None = None
        last_log = time.perf_counter()
        for batch in simulate(ids, size, seed, stats, now):
            if pending is not None:
                await pending
            pending = asyncio.create_task(store.apply([batch]))
            await asyncio.sleep(0)  # let the write start before generating the next batch
            if time.perf_counter() - last_log > 15:
                last_log = time.perf_counter()
                log(
                    f"  {stats.sessions:,} sessions ({stats.updates:,} updates) in {last_log - started:.0f} s"
                )
        if pending is not None:
            await pending
        if backend == "sqlite":
            async with engine.connect() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    if backend != "sqlite":
        # A loaded production database has been vacuumed and analyzed by autovacuum; do it
        # now so that every run sees the same planner statistics.
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute("VACUUM (ANALYZE)")
        finally:
            await conn.close()
    # The details page shows a mature production release of the browser project: the one
    # shipped about a third of the window before now.
    n = size.releases_per_project
    detail = [ids["web"], version_name("web", max(0, n - 1 - n // 3))]
    elapsed = time.perf_counter() - started
    log(f"  loaded {stats.sessions:,} sessions ({stats.updates:,} updates) in {elapsed:.0f} s")
    return Manifest(
        backend=backend,
        size=size.name,
        seed=seed,
        version=DATASET_VERSION,
        now=now,
        days=size.days,
        org=ORG,
        token=token,
        projects=projects,
        releases=len(stats.releases),
        sessions=stats.sessions,
        updates=stats.updates,
        users=len(stats.users),
        load_seconds=round(elapsed, 1),
        database_url=url,
        detail_release=detail,
    )
