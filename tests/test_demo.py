"""The demo data keeps the promises the product makes about it (and is deterministic)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from jobs.demo import (
    BATCH_SIZE,
    DemoError,
    DemoInfo,
    ProgressBar,
    demo_is_needed,
    generate_demo,
)
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import create_all
from storage.store import SessionStore
from storage.types import (
    DAY,
    HOUR,
    Aggregate,
    AggregateQuery,
    Cond,
    Dimension,
    GroupKey,
    Quantity,
)

# A Thursday, 08:53:20.5 UTC: the current hour is only partly over.
NOW = 1_760_000_000.5
ALL = frozenset(Quantity)

# Every test of the 30-day data shares one generation (it takes seconds), so they run in
# the module's event loop, like the fixture.
shared = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Demo:
    accounts: AccountStore
    store: SessionStore
    info: DemoInfo
    calls: list[tuple[int, int]]

    @property
    def project_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.info.projects)

    def pid(self, slug: str) -> int:
        return next(p.id for p in self.info.projects if p.slug == slug)

    async def totals(
        self,
        group_by: tuple[Dimension, ...] = (),
        *,
        start: float = NOW - 31 * DAY,
        end: float = NOW + DAY,
        granularity: int = DAY,
        environment: str | None = None,
    ) -> dict[GroupKey, Aggregate]:
        query = AggregateQuery(
            project_ids=self.project_ids,
            start=int(start) - int(start) % granularity,
            end=int(end) - int(end) % granularity,
            granularity=granularity,
            quantities=ALL,
            group_by=group_by,
            filter=None if environment is None else Cond("environment", (environment,)),
        )
        return (await self.store.aggregate(query)).totals


async def _open(path: Path) -> tuple[AccountStore, SessionStore]:
    engine = create_engine(f"sqlite:///{path}")
    await create_all(engine)
    return AccountStore(engine), SessionStore(engine)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    accounts, store = await _open(tmp_path_factory.mktemp("demo") / "demo.db")
    assert await demo_is_needed(accounts)
    calls: list[tuple[int, int]] = []
    info = await generate_demo(
        accounts, store, now=NOW, progress=lambda done, total: calls.append((done, total))
    )
    yield Demo(accounts, store, info, calls)
    await store.engine.dispose()


@shared
async def test_organization_and_projects(demo: Demo) -> None:
    info = demo.info
    assert info.org_slug == "demo"
    assert {p.slug for p in info.projects} >= {"web", "api", "mobile"}
    assert all(len(p.public_key) == 32 for p in info.projects)
    org_id = await demo.accounts.organization_id("demo")
    assert org_id is not None
    stored = await demo.accounts.projects_of_org(org_id)
    assert {p.id for p in stored} == set(demo.project_ids)
    for p in info.projects:
        key = await demo.accounts.key(p.public_key)
        assert key is not None and key.project_id == p.id
    assert not await demo_is_needed(demo.accounts)


@shared
async def test_progress_reports_every_batch(demo: Demo) -> None:
    total = demo.info.increments
    assert total > 50_000
    assert demo.calls[-1] == (total, total)
    done = [d for d, t in demo.calls if t == total]
    assert len(done) == len(demo.calls) > 10
    assert done == sorted(done)
    # Whole hours are packed, so a batch may exceed BATCH_SIZE by at most one hour.
    steps = [b - a for a, b in zip([0, *done], done, strict=False)]
    assert max(steps) < 2 * BATCH_SIZE


@shared
async def test_at_least_ten_releases_per_project(demo: Demo) -> None:
    totals = await demo.totals(("project_id", "release"))
    per_project: dict[int, set[str]] = {}
    for key in totals:
        assert key.project_id is not None and key.release is not None
        per_project.setdefault(key.project_id, set()).add(key.release)
    assert set(per_project) == set(demo.project_ids)
    assert all(len(releases) >= 10 for releases in per_project.values())
    assert {(p, r) for p, rs in per_project.items() for r in rs} == set(demo.info.releases)


@shared
async def test_thousands_of_distinct_users(demo: Demo) -> None:
    users = (await demo.totals())[GroupKey()].users
    assert users.all >= 3000
    assert 0 < users.crashed < users.errored < users.all
    assert 0 < users.anr_foreground <= users.anr <= users.abnormal


@shared
async def test_several_environments(demo: Demo) -> None:
    totals = await demo.totals(("environment",))
    started = {k.environment: a.counters.started for k, a in totals.items()}
    assert set(started) == {"production", "staging", "development"}
    assert started["production"] > 10 * started["staging"] > 10 * started["development"] > 0


@shared
async def test_bad_release_crash_spike(demo: Demo) -> None:
    totals = await demo.totals(("project_id", "release"))
    rates = {
        (k.project_id, k.release): 1 - a.counters.crashed / a.counters.started for k, a in totals.items()
    }
    bad = demo.info.bad_release
    assert bad == (demo.pid("mobile"), "mobile@2.4.0")
    assert 0.75 < rates[bad] < 0.85
    others = [r for key, r in rates.items() if key != bad]
    assert min(others) >= 0.98
    assert max(others) < 1.0  # every release has some crashes


@shared
async def test_data_in_the_last_24_hours(demo: Demo) -> None:
    totals = await demo.totals(("project_id",), start=NOW - 23 * HOUR, end=NOW + HOUR, granularity=HOUR)
    for pid in demo.project_ids:
        agg = totals[GroupKey(project_id=pid)]
        assert agg.counters.started > 100
    assert totals[GroupKey(project_id=demo.pid("web"))].users.all > 100
    # Nothing lies in the future.
    assert not await demo.totals(start=NOW + HOUR, end=NOW + 2 * DAY, granularity=HOUR)


@shared
async def test_session_shapes_per_platform(demo: Demo) -> None:
    totals = await demo.totals(("project_id",))
    web = totals[GroupKey(project_id=demo.pid("web"))]
    api = totals[GroupKey(project_id=demo.pid("api"))]
    mobile = totals[GroupKey(project_id=demo.pid("mobile"))]
    # Server mode: pre-aggregated, no users, no session ids, no durations.
    assert api.counters.errored_preaggr > 0 and api.counters.crashed > 0
    assert api.users.all == 0 and api.errored_set == 0 and api.durations.count == 0
    # Individual sessions: errors by session id, durations of exited sessions.
    for agg in (web, mobile):
        assert agg.counters.errored_preaggr == 0
        assert agg.errored_set > agg.counters.crashed + agg.counters.abnormal
        assert 0.9 * agg.counters.started < agg.durations.count < agg.counters.started
    assert web.counters.abnormal == 0
    assert mobile.counters.abnormal > 0 and mobile.users.anr > 0


def _share(totals: dict[GroupKey, Aggregate], release: str, of: list[str]) -> float:
    """`release`'s share of the sessions started by the releases `of` (one project)."""
    mine = sum(a.counters.started for k, a in totals.items() if k.release in of)
    agg = totals.get(GroupKey(release=release))
    return (agg.counters.started if agg else 0) / mine


@shared
async def test_new_releases_take_over(demo: Demo) -> None:
    first_day = await demo.totals(
        ("release",), start=NOW - 30 * DAY, end=NOW - 29 * DAY, environment="production"
    )
    last_day = await demo.totals(
        ("release",),
        start=NOW - DAY,
        end=NOW + HOUR,
        granularity=HOUR,
        environment="production",
    )
    for pid in demo.project_ids:
        releases = [r for p, r in demo.info.releases if p == pid]
        oldest, newest = releases[0], releases[-1]
        assert _share(first_day, oldest, releases) > 0.5
        assert _share(first_day, newest, releases) == 0
        assert _share(last_day, oldest, releases) < 0.01
        assert _share(last_day, newest, releases) > 0.2


@shared
async def test_diurnal_pattern(demo: Demo) -> None:
    hour = int(NOW) - int(NOW) % HOUR
    query = AggregateQuery(
        project_ids=(demo.pid("web"),),
        start=hour - 7 * DAY,
        end=hour,
        granularity=HOUR,
        quantities=frozenset({Quantity.COUNTERS}),
        interval=HOUR,
    )
    series = (await demo.store.aggregate(query)).series[GroupKey()]
    per_hour_of_day = [0] * 24
    for bucket, agg in series.items():
        per_hour_of_day[bucket % DAY // HOUR] += agg.counters.started
    assert max(per_hour_of_day) > 2.5 * min(per_hour_of_day)


@shared
async def test_refuses_to_overwrite(demo: Demo) -> None:
    with pytest.raises(DemoError):
        await generate_demo(demo.accounts, demo.store, now=NOW)


async def _fingerprint(path: Path, seed: int) -> tuple[DemoInfo, dict[tuple[object, ...], object]]:
    accounts, store = await _open(path)
    try:
        info = await generate_demo(accounts, store, now=NOW, days=3, seed=seed)
        query = AggregateQuery(
            project_ids=tuple(p.id for p in info.projects),
            start=int(NOW - 4 * DAY) // HOUR * HOUR,
            end=int(NOW + HOUR) // HOUR * HOUR,
            granularity=HOUR,
            quantities=ALL,
            group_by=("project_id", "release", "environment"),
            interval=DAY,
        )
        series = (await store.aggregate(query)).series
        return info, {
            (k.project_id, k.release, k.environment, bucket): agg
            for k, buckets in series.items()
            for bucket, agg in buckets.items()
        }
    finally:
        await store.engine.dispose()


async def test_deterministic_for_seed_and_now(tmp_path: Path) -> None:
    info_a, a = await _fingerprint(tmp_path / "a.db", seed=7)
    info_b, b = await _fingerprint(tmp_path / "b.db", seed=7)
    _, c = await _fingerprint(tmp_path / "c.db", seed=8)
    assert a and a == b
    assert (info_a.releases, info_a.increments) == (info_b.releases, info_b.increments)
    assert a != c


def test_progress_bar_on_a_pipe() -> None:
    out = io.StringIO()
    bar = ProgressBar("demo", width=10, stream=out)
    for done in range(0, 101):
        bar(done, 100)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "demo [          ]   0%"
    assert lines[5] == "demo [#####     ]  50%"
    assert lines[-1] == "demo [##########] 100%"
    assert len(lines) == 11  # one line per 10 %


def test_progress_bar_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = ProgressBar(width=4, stream=out)
    bar(1, 2)
    bar(1, 2)  # unchanged: not redrawn
    bar(2, 2)
    bar.close()
    assert out.getvalue() == "\r[##  ]  50%\r[####] 100%\n"
    empty = Tty()
    ProgressBar(stream=empty).close()
    assert empty.getvalue() == ""


async def test_gate_and_client_split_through_the_api(make_app, sqlite_url) -> None:
    """Through API v2, as the dashboard asks: the mobile project's gate FAILs the bad
    release and PASSes every other one it has enough sessions of; the releases split by
    SDK, OS and browser."""
    from server.clock import FixedClock
    from server.settings import Settings

    app = await make_app(Settings(database_url=sqlite_url), FixedClock(NOW))
    info = await generate_demo(app.services.accounts, app.services.store, now=NOW)
    token = await app.services.accounts.create_token("demo", ["org:read"])
    query = """{ organization(slug: "demo") { health(scope: {window: {period: LAST_14_DAYS}}) {
      releases(first: 100) { nodes { release { version project { slug } } sessions
        gate { verdict crashFreeSessionRate sessions }
        os: breakdown(by: OS, first: 20) { nodes { value sessions } }
        browser: breakdown(by: BROWSER, first: 20) { nodes { value sessions } }
        sdk: breakdown(by: SDK, first: 20) { nodes { value sessions } } } } } } }"""
    r = await app.client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    body = r.json()
    assert "errors" not in body, body
    nodes = body["data"]["organization"]["health"]["releases"]["nodes"]
    by_version = {n["release"]["version"]: n for n in nodes}
    bad = by_version[info.bad_release[1]]
    assert bad["gate"]["verdict"] == "FAIL" and bad["gate"]["crashFreeSessionRate"] < 85
    mobile = [n for n in nodes if n["release"]["project"]["slug"] == "mobile" and n is not bad]
    judged = [n for n in mobile if n["gate"]["sessions"] >= 50]
    assert len(judged) >= 5
    assert all(n["gate"]["verdict"] == "PASS" for n in judged), [
        (n["release"]["version"], n["gate"]) for n in judged
    ]
    # Only the mobile project has a gate.
    assert all(n["gate"] is None for n in nodes if n["release"]["project"]["slug"] != "mobile")

    sdks = {"web": "sentry.javascript.browser", "api": "sentry.python", "mobile": "sentry.java.android"}
    for n in nodes:
        # Every session names its SDK: one value, all of the release's sessions.
        assert n["sdk"]["nodes"] == [
            {"value": sdks[n["release"]["project"]["slug"]], "sessions": n["sessions"]}
        ]
    web = by_version["web@3.19.0"]
    os_names = {g["value"] for g in web["os"]["nodes"]}
    browsers = {g["value"] for g in web["browser"]["nodes"]}
    assert {"Windows", "Mac OS X", "iOS", "Android"} <= os_names
    assert {"Chrome", "Firefox", "Safari", "Mobile Safari", "Edge"} <= browsers
    assert sum(g["sessions"] for g in web["os"]["nodes"]) == web["sessions"]
    # Windows (Chrome, Firefox, Edge: 49 % of the weight) leads the web OS split.
    assert web["os"]["nodes"][0]["value"] == "Windows"
    assert {g["value"] for g in by_version["mobile@2.5.0"]["os"]["nodes"]} == {"Android"}
    assert by_version["api@1.51.0"]["os"]["nodes"] == []
