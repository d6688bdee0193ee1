"""Demo data: a month of realistic release health for an organization called `demo`.

`relhealth demo` and `relhealth serve --demo` call `generate_demo` on an empty store, so
that a first-time user sees populated dashboards instead of empty ones. Three projects
show the three ways SDKs report sessions (`release-health.md` sections 2.3 and 2.4):

* `web` (JavaScript in the browser): individual sessions, an `init` update, then an
  `exited` update with a duration; some handled errors, very few crashes;
* `api` (a Python server): pre-aggregated buckets, so `errored_preaggr` and no users or
  session ids;
* `mobile` (Android): individual sessions with crashes and abnormal ends (ANRs with their
  mechanism), one user per installation, and one bad release (`mobile@2.4.0`, about 80 %
  crash-free) that a hotfix replaces the next day; the project's health gate
  (`BAD_RELEASE_GATE`) FAILs it and PASSes the others.

Sessions carry their SDK's `sdk.name` and the browser ones a realistic `attrs.user_agent`
(one per user's device), so the release split by SDK, OS and browser has content:
ingest's own rules derive the dimensions (the Android SDK implies the OS, without a
version: Android SDKs send no user agent, and each distinct value is a series more to
write, which `serve --demo` waits for).

Each project ships a dozen releases over the window. A new release reaches production a
day after staging (and two after development), ramps up over hours (web, api) or days (mobile store rollout)
and takes over the traffic; mobile users lag, so old versions fade out slowly. Traffic
follows the time of day and the day of the week.

Everything is drawn from `random.Random`, seeded per project from `seed`, and timestamped
relative to `now`: the same seed and `now` always give the same data. Sessions are
simulated hour by hour as the updates and buckets an SDK sends; `ingest.simulate` turns
them into exactly the increments ingest writes for them.
"""

from __future__ import annotations

import math
import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from ingest.simulate import aggregate_bucket, session_update
from storage import gates
from storage.accounts import AccountStore
from storage.protocol import Store
from storage.types import (
    DAY,
    HOUR,
    MINUTE,
    OutcomeIncrement,
    ProjectRelease,
    SessionIncrement,
    WriteBatch,
)

ORG_SLUG = "demo"
#: Increments per transaction: large enough to amortize the commit, small enough for a
#: smooth progress bar.
BATCH_SIZE = 5000

Mode = Literal["browser", "mobile", "server"]


# -- what is returned --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoProject:
    id: int
    slug: str
    platform: str
    public_key: str


@dataclass(frozen=True, slots=True)
class DemoInfo:
    org_slug: str
    projects: tuple[DemoProject, ...]
    #: Every (project id, release) that received sessions, in shipping order per project.
    releases: tuple[ProjectRelease, ...]
    #: The release with the crash spike.
    bad_release: ProjectRelease
    #: Session increments written (each one session update or aggregate bucket).
    increments: int


class DemoError(RuntimeError):
    pass


# -- the simulated world -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    """How one project's traffic behaves."""

    slug: str
    platform: str
    mode: Mode
    versions: tuple[str, ...]  # shipping order; the first is already live when the window opens
    per_hour: float  # production sessions per hour on an average day
    peak_hour: int  # UTC hour of the daily peak
    weekend: float  # traffic factor on Saturday and Sunday
    ramp_hours: float  # a new production release gets ~95 % of its final share after this
    ceiling: float  # share of the traffic that ever moves to a newer release
    crash: float  # per-session probabilities on an ordinary release
    abnormal: float
    errored: float  # handled errors in a session that ends cleanly
    users: int  # size of the user pool; 0 means sessions carry no user
    anonymous: float  # share of sessions without a user
    median_duration: float  # seconds
    bad_version: str | None = None
    bad_crash: float = 0.0
    #: The envelope header's `sdk.name` of the project's SDK.
    sdk: str | None = None
    #: `attrs.user_agent` values the sessions carry, with their weights (none: no user
    #: agent). ingest derives the OS and browser dimensions from them.
    user_agents: tuple[tuple[str, float], ...] = ()


_CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
_CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
_SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)
_FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
_EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
)
_SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Mobile/15E148 Safari/604.1"
)
_CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
_FIREFOX_LINUX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

_PROFILES: tuple[_Profile, ...] = (
    _Profile(
        slug="web",
        platform="javascript",
        mode="browser",
        versions=tuple(f"web@3.{minor}.0" for minor in range(8, 20)),
        per_hour=60,
        peak_hour=15,
        weekend=0.7,
        ramp_hours=10,
        ceiling=0.995,
        crash=0.002,
        abnormal=0.0,
        errored=0.04,
        users=3200,
        anonymous=0.2,
        median_duration=240,
        sdk="sentry.javascript.browser",
        user_agents=(
            (_CHROME_WINDOWS, 0.34),
            (_CHROME_MAC, 0.14),
            (_SAFARI_MAC, 0.10),
            (_FIREFOX_WINDOWS, 0.08),
            (_EDGE_WINDOWS, 0.07),
            (_SAFARI_IPHONE, 0.15),
            (_CHROME_ANDROID, 0.09),
            (_FIREFOX_LINUX, 0.03),
        ),
    ),
    _Profile(
        slug="api",
        platform="python",
        mode="server",
        versions=tuple(f"api@1.{minor}.0" for minor in range(40, 52)),
        per_hour=2400,
        peak_hour=14,
        weekend=0.55,
        ramp_hours=6,
        ceiling=1.0,
        crash=0.0008,
        abnormal=0.0,
        errored=0.015,
        users=0,
        anonymous=1.0,
        median_duration=0,
        sdk="sentry.python",
    ),
    _Profile(
        slug="mobile",
        platform="android",
        mode="mobile",
        versions=(
            "mobile@2.0.0",
            "mobile@2.0.1",
            "mobile@2.1.0",
            "mobile@2.1.1",
            "mobile@2.2.0",
            "mobile@2.2.1",
            "mobile@2.3.0",
            "mobile@2.3.1",
            "mobile@2.3.2",
            "mobile@2.4.0",
            "mobile@2.4.1",
            "mobile@2.5.0",
        ),
        per_hour=45,
        peak_hour=19,
        weekend=1.15,
        ramp_hours=44,
        ceiling=0.93,
        crash=0.006,
        abnormal=0.004,
        errored=0.03,
        users=2400,
        anonymous=0.0,
        median_duration=100,
        bad_version="mobile@2.4.0",
        bad_crash=0.19,
        sdk="sentry.java.android",
    ),
)


@dataclass(frozen=True, slots=True)
class _Environment:
    name: str
    share: float  # traffic relative to production
    lead_hours: float  # releases arrive here this much earlier than in production
    ramp_hours: float | None  # None: the project's own ramp
    team_only: bool  # sessions come from the small pool of the team's own users


_ENVIRONMENTS = (
    _Environment("production", 1.0, 0.0, None, team_only=False),
    _Environment("staging", 0.04, 24.0, 2.0, team_only=True),
    # A handful of sessions a day from developers running the next build.
    _Environment("development", 0.003, 48.0, 1.0, team_only=True),
)

#: The health gate of the project with the bad release (all environments, two weeks: the
#: bad release shipped about a week before the end). Good mobile releases are about 99 %
#: crash-free in sessions and 97-99 % in users; the bad one about 81 % and 71 %, so it
#: FAILs on both and the others PASS with a margin.
BAD_RELEASE_GATE = gates.GateRule(
    time_window="LAST_14_DAYS",
    crash_free_sessions_target=97.5,
    crash_free_sessions_critical=95.0,
    crash_free_users_target=94.0,
    crash_free_users_critical=85.0,
    min_sessions=50,
)

_TEAM_SIZE = 25
#: Server SDKs flush aggregates per minute; one bucket per five minutes keeps the row
#: count down and looks the same on every chart coarser than five minutes.
_SERVER_SLOT = 5 * MINUTE


@dataclass(slots=True)
class _Project:
    """One project's state during the simulation."""

    id: int
    profile: _Profile
    rng: random.Random
    ships: list[float]  # production shipping time per version
    quality: list[float]  # per-version factor on the crash and error probabilities
    users: list[str]
    user_weights: list[float]  # cumulative: a few heavy users, many occasional ones
    team: list[str]
    day_noise: list[float]
    seen: set[str] = field(default_factory=set)  # releases that got sessions


# -- public API --------------------------------------------------------------------


async def demo_is_needed(accounts: AccountStore) -> bool:
    """True for a store without any project: demo data would not mix with real data."""
    return await accounts.count_projects() == 0


async def generate_demo(
    accounts: AccountStore,
    store: Store,
    *,
    now: float,
    days: int = 30,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> DemoInfo:
    """Create the `demo` organization with its projects and `days` days of sessions up
    to `now`; call `progress(written, total)` after every committed batch."""
    if days < 1:
        raise DemoError("days must be at least 1")
    org_id = await accounts.organization_id(ORG_SLUG)
    if org_id is not None and await accounts.projects_of_org(org_id):
        raise DemoError(f"organization {ORG_SLUG!r} already has projects; use an empty store")

    end = int(now)
    start = end - end % HOUR - days * DAY
    projects: list[_Project] = []
    created: list[DemoProject] = []
    for profile in _PROFILES:
        info, key = await accounts.create_project(ORG_SLUG, profile.slug)
        created.append(DemoProject(info.id, profile.slug, profile.platform, key))
        # One generator per project: each project's data depends only on the seed.
        rng = random.Random(f"relhealth-demo:{seed}:{profile.slug}")
        projects.append(_plan(info.id, profile, rng, start, end, days))

    for profile, project in zip(_PROFILES, projects, strict=True):
        if profile.bad_version is not None:
            org_id = await accounts.organization_id(ORG_SLUG)
            assert org_id is not None
            await gates.create(accounts.engine, org_id, project.id, BAD_RELEASE_GATE)

    batches = _batches(_simulate(projects, start, end))
    total = sum(len(b.increments) for b in batches)
    written = 0
    for batch in batches:
        await store.apply([batch])
        written += len(batch.increments)
        if progress is not None:
            progress(written, total)

    releases = tuple((p.id, v) for p in projects for v in p.profile.versions if v in p.seen)
    bad = next((p.id, p.profile.bad_version) for p in projects if p.profile.bad_version is not None)
    return DemoInfo(ORG_SLUG, tuple(created), releases, bad, total)


class ProgressBar:
    """`label [#########           ] 45%` on stderr, without dependencies.

    Redrawn in place on a terminal; elsewhere (a log file, CI) one line per 10 %, so that
    the output stays readable. Pass the instance as a `progress` callback.
    """

    def __init__(self, label: str = "", width: int = 30, stream: TextIO | None = None) -> None:
        self.label = label
        self.width = width
        self.stream = stream
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        stream = self.stream or sys.stderr
        percent = 100 if total <= 0 else max(0, min(100, done * 100 // total))
        tty = stream.isatty()
        if percent == self._shown or (not tty and percent // 10 == self._shown // 10):
            return
        self._shown = percent
        filled = self.width * percent // 100
        bar = f"[{'#' * filled}{' ' * (self.width - filled)}] {percent:3d}%"
        prefix = f"{self.label} " if self.label else ""
        stream.write(f"\r{prefix}{bar}" if tty else f"{prefix}{bar}\n")
        stream.flush()

    def close(self) -> None:
        """End the in-place line (call once the work is done)."""
        stream = self.stream or sys.stderr
        if self._shown >= 0 and stream.isatty():
            stream.write("\n")
            stream.flush()


# -- planning ----------------------------------------------------------------------


def _plan(
    project_id: int, profile: _Profile, rng: random.Random, start: int, end: int, days: int
) -> _Project:
    ships = _ship_times(rng, profile, start, end)
    quality = [rng.uniform(0.5, 1.6) for _ in profile.versions]
    users = [random_uuid(rng) for _ in range(profile.users)]
    # Log-normal activity: most users come back now and then, a few every day.
    weights = [rng.lognormvariate(0.0, 1.0) for _ in users]
    cumulative = [0.0] * len(weights)
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        cumulative[i] = acc
    team = [random_uuid(rng) for _ in range(_TEAM_SIZE)] if profile.users else []
    day_noise = [rng.uniform(0.85, 1.15) for _ in range(days + 2)]
    return _Project(project_id, profile, rng, ships, quality, users, cumulative, team, day_noise)


def _ship_times(rng: random.Random, profile: _Profile, start: int, end: int) -> list[float]:
    """Production shipping times: the first version is long established, the others ship
    at roughly even intervals, the newest about a day before `end` so that it is still
    ramping up in the last-24-hours view. The release after the bad one is its hotfix and
    ships the next day."""
    n = len(profile.versions)
    step = (end - start - DAY) / (n - 1)
    ships = [start - 5.0 * DAY]
    for k in range(1, n):
        ships.append(start + k * step - rng.uniform(0.0, 0.3) * step)
    if profile.bad_version is not None:
        k = profile.versions.index(profile.bad_version)
        if k + 1 < n:
            ships[k + 1] = ships[k] + min(20 * HOUR, 0.8 * step)
    return ships


def _shares(t: float, ships: list[float], lead: float, ramp_hours: float, ceiling: float) -> list[float]:
    """Share of the traffic per version at time `t`.

    Version j has reached fraction a_j of the users who will ever move to it (an S-curve
    from its shipping time); of the traffic not yet taken by newer versions it gets a_j.
    With a_0 = 1 the shares add up to exactly 1, newer versions take over, and with a
    ceiling below 1 a tail of users stays behind on every old version.
    """
    tau = ramp_hours * HOUR / math.sqrt(3.0)  # (ramp / tau)^2 = 3: 95 % after the ramp
    shares = [0.0] * len(ships)
    rest = 1.0
    for j in range(len(ships) - 1, -1, -1):
        age = t - (ships[j] - lead)
        if j == 0:
            a = 1.0
        elif age <= 0:
            a = 0.0
        else:
            a = ceiling * (1.0 - math.exp(-((age / tau) ** 2)))
        shares[j] = rest * a
        rest *= 1.0 - a
    return shares


def _traffic(project: _Project, t: float, start: int, end: int) -> float:
    """Sessions per hour at `t`: daily and weekly rhythm, growth, day-to-day noise."""
    profile = project.profile
    hour_of_day = (t % DAY) / HOUR
    diurnal = 1.0 + 0.6 * math.cos(2 * math.pi * (hour_of_day - profile.peak_hour) / 24)
    weekend = profile.weekend if datetime.fromtimestamp(t, UTC).weekday() >= 5 else 1.0
    growth = 1.0 + 0.2 * (t - start) / max(1, end - start)
    noise = project.day_noise[min(len(project.day_noise) - 1, int(t - start) // DAY)]
    return profile.per_hour * diurnal * weekend * growth * noise


# -- simulation --------------------------------------------------------------------


@dataclass(slots=True)
class _Hour:
    increments: list[SessionIncrement] = field(default_factory=list)
    outcomes: list[OutcomeIncrement] = field(default_factory=list)


def _simulate(projects: list[_Project], start: int, end: int) -> Iterator[_Hour]:
    """One `_Hour` per hour from `start`, chronological; nothing starts after `end`."""
    for hour in range(start, end, HOUR):
        span = min(HOUR, end - hour)  # the current hour is only partly over
        out = _Hour()
        for project in projects:
            before = len(out.increments)
            _simulate_hour(project, hour, span, start, end, out.increments)
            _count_outcomes(project, hour, out.increments[before:], out.outcomes)
        yield out


def _simulate_hour(
    project: _Project, hour: int, span: int, start: int, end: int, out: list[SessionIncrement]
) -> None:
    profile, rng = project.profile, project.rng
    rate = _traffic(project, hour + span / 2, start, end) * span / HOUR
    for env in _ENVIRONMENTS:
        ramp = env.ramp_hours if env.ramp_hours is not None else profile.ramp_hours
        # Test devices of the team all update at once; only real users lag behind.
        ceiling = profile.ceiling if env.ramp_hours is None else 1.0
        shares = _shares(hour + span / 2, project.ships, env.lead_hours * HOUR, ramp, ceiling)
        for j, share in enumerate(shares):
            expected = rate * env.share * share
            if expected < 1e-4:
                continue
            release = profile.versions[j]
            crash = profile.crash * project.quality[j]
            if release == profile.bad_version:
                crash = profile.bad_crash
            if profile.mode == "server":
                _server_buckets(project, j, env, hour, span, expected, crash, out)
                continue
            n = poisson(rng, expected)
            for _ in range(n):
                started = hour + rng.random() * span
                if env.team_only:
                    user: str | None = rng.choice(project.team)
                elif rng.random() < profile.anonymous:
                    user = None
                else:
                    user = rng.choices(project.users, cum_weights=project.user_weights)[0]
                _session(project, j, env.name, started, end, user, crash, out)
            if n:
                project.seen.add(release)


def _session(
    project: _Project,
    version: int,
    environment: str,
    started: float,
    now: int,
    user: str | None,
    crash: float,
    out: list[SessionIncrement],
) -> None:
    """The updates of one individual session, stored as ingest stores them
    (`ingest.simulate`): the initial update, a handled error if any, and the final update
    unless the session still runs."""
    profile, rng = project.profile, project.rng
    pid, release = project.id, profile.versions[version]
    agent = _user_agent(profile, user, started)

    def send(**update: Any) -> None:
        increment = session_update(
            pid,
            release,
            started,
            environment=environment,
            did=user,
            sdk_name=profile.sdk,
            user_agent=agent,
            **update,
        )
        if increment is not None:
            out.append(increment)

    send(init=True)
    roll = rng.random()
    abnormal = profile.abnormal * project.quality[version]
    status = "crashed" if roll < crash else "abnormal" if roll < crash + abnormal else "exited"
    handled = rng.random() < profile.errored * project.quality[version]
    duration = round(rng.lognormvariate(math.log(profile.median_duration), 1.0), 3)
    if started + duration > now:
        return  # still running: only the initial update has arrived
    sid = random_uuid(rng) if handled or status != "exited" else None
    errors = 1 if handled else 0
    if handled:
        # `status: ok, errors: 1` mid-session: the session joins the error set.
        send(sid=sid, errors=1)
    if status == "exited":
        # An exited update still carries the session's error count: errored again (the
        # error set de-duplicates) and it contributes its duration.
        send(status="exited", sid=sid, errors=errors, duration=duration)
    elif status == "crashed":
        send(status="crashed", sid=sid, errors=errors)
    else:
        # Android reports why the OS ended the session: mostly ANRs, in the foreground
        # more often than in the background; the rest were killed without a mechanism.
        m = rng.random()
        mechanism = "anr_foreground" if m < 0.6 else "anr_background" if m < 0.85 else None
        send(status="abnormal", sid=sid, errors=errors, abnormal_mechanism=mechanism)


def _user_agent(profile: _Profile, user: str | None, started: float) -> str | None:
    """A user's device keeps its user agent; anonymous sessions take one by their start.
    Chosen by a hash, not drawn from the project's generator, so that every other number
    of the demo is what it was before sessions had user agents."""
    if not profile.user_agents:
        return None
    # A user id is a UUID: its first 32 bits are uniform.
    point = int(user.replace("-", "")[:8], 16) / 0x1_0000_0000 if user is not None else (started * 7.31) % 1.0
    point *= sum(weight for _, weight in profile.user_agents)
    for agent, weight in profile.user_agents:
        point -= weight
        if point < 0:
            return agent
    return profile.user_agents[-1][0]


def _server_buckets(
    project: _Project,
    version: int,
    env: _Environment,
    hour: int,
    span: int,
    expected: float,
    crash: float,
    out: list[SessionIncrement],
) -> None:
    """Aggregate buckets of a server SDK (`release-health.md` 2.4): request counts per
    time slot, never a user or a session id."""
    profile, rng = project.profile, project.rng
    release = profile.versions[version]
    slots = range(hour, hour + span, _SERVER_SLOT)
    for slot in slots:
        n = poisson(rng, expected / len(slots))
        if n == 0:
            continue
        crashed = min(n, poisson(rng, n * crash))
        errored = min(n - crashed, poisson(rng, n * profile.errored * project.quality[version]))
        increment = aggregate_bucket(
            project.id,
            release,
            float(slot),
            environment=env.name,
            exited=n - crashed - errored,
            errored=errored,
            crashed=crashed,
            sdk_name=profile.sdk,
        )
        if increment is not None:
            out.append(increment)
        project.seen.add(release)


def _count_outcomes(
    project: _Project,
    hour: int,
    increments: list[SessionIncrement],
    out: list[OutcomeIncrement],
) -> None:
    """Accepted-item counters as ingest keeps them (`ingest.md` 15.1), plus the few drops
    and normalizations a real mobile fleet causes (phones that were offline for days,
    clocks that are off)."""
    if not increments:
        return
    server = project.profile.mode == "server"
    item_type = "sessions" if server else "session"
    pid = project.id
    out.append(OutcomeIncrement(pid, item_type, "accepted", "", hour, len(increments)))
    if project.profile.mode == "mobile":
        rng = project.rng
        drops = Counter(
            "too_old" if rng.random() < 0.5 else "clock_drift_corrected"
            for _ in range(poisson(rng, len(increments) * 0.004))
        )
        for reason, n in sorted(drops.items()):
            kind: Literal["dropped", "normalized"] = "dropped" if reason == "too_old" else "normalized"
            out.append(OutcomeIncrement(pid, item_type, kind, reason, hour, n))


def _batches(hours: Iterator[_Hour]) -> list[WriteBatch]:
    """Whole hours packed into batches of about `BATCH_SIZE` increments."""
    batches: list[WriteBatch] = []
    current = WriteBatch()
    for h in hours:
        current.increments.extend(h.increments)
        current.outcomes.extend(h.outcomes)
        if len(current.increments) >= BATCH_SIZE:
            batches.append(current)
            current = WriteBatch()
    if current:
        batches.append(current)
    return batches


# -- helpers -----------------------------------------------------------------------


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID from `rng` (not `uuid.uuid4`, which would break determinism)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: Knuth's method for small means, a normal approximation above."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
