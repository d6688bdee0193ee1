"""Schemathesis fuzzing of the query APIs on a live server with data in the store:
GraphQL (API v2 at `/graphql` and the frozen v1 at `/graphql/v1`, from introspection)
and the sessions endpoint (from `server/static/openapi.json`). Checks: no 5xx, no masked `Unexpected error.`, every
response within a latency bound and the process's memory within a growth bound.

The runs are derandomized (the same cases every time) and bounded by `max_examples`, so
the whole file stays well under a minute and a half on a loaded two-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from resolvers.sessions.fields import FIELDS, GROUP_BY
from storage.engine import create_engine
from storage.store import SessionStore
from storage.types import USER_CRASHED, USER_ERRORED, USER_SEEN, SessionIncrement, WriteBatch
from tests.conftest import free_port
from tests.test_process import relhealth, start_server

pytestmark = pytest.mark.slow

SPEC = Path(__file__).resolve().parents[1] / "server" / "static" / "openapi.json"
#: Slowest response allowed, in seconds. The slowest fuzzed request takes ~0.1 s alone;
#: the bound leaves room for five other helpers' test runs on two cores.
MAX_LATENCY = 5.0
#: Growth of the server process's resident memory over a run, from its first fuzzed
#: request. Measured: +20 MiB after 250 requests, a plateau of +68 MiB from about 1500
#: requests on (4000 requests) while the 512-entry parser and validation caches fill; a
#: leak or an unbounded answer per request would cross the bound.
MAX_RSS_GROWTH = 96 * 1024 * 1024
#: Cases per API: enough to reach every parameter and error path, few enough to bound
#: time. `RELHEALTH_FUZZ_EXAMPLES=5000` runs a longer, randomized search locally.
MAX_EXAMPLES = int(os.environ.get("RELHEALTH_FUZZ_EXAMPLES", "250"))
DERANDOMIZE = "RELHEALTH_FUZZ_EXAMPLES" not in os.environ


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The DateTime scalar: valid instants, out-of-range ones, unix seconds and garbage.
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
        .map(lambda d: d.isoformat() + "Z")
        .map(nodes.String),
        st.sampled_from([_iso(time.time() - 3600 * h) for h in (0, 5, 30, 70)] + ["1970-01-01"]).map(
            nodes.String
        ),
        st.integers().map(nodes.Int),
        st.text(max_size=30).map(nodes.String),
    ),
)
# Ids: the store's projects and environments often, out-of-range and garbage otherwise.
schemathesis.graphql.scalar(
    "ID",
    st.one_of(
        st.sampled_from(["1", "2", "3", "-1", "0", "2147483648", "9223372036854775808"]),
        st.text(max_size=12),
    ).map(nodes.String),
)
# Federation representations: the two entity types with valid and invalid keys, and
# arbitrary values.
_KEY = st.one_of(st.sampled_from(["1", "2", "3", "9223372036854775808"]), st.text(max_size=12))
schemathesis.graphql.scalar(
    "_Any",
    st.one_of(
        st.builds(
            lambda i: nodes.Object(
                [_field("__typename", nodes.String("Project")), _field("id", nodes.String(i))]
            ),
            _KEY,
        ),
        st.builds(
            lambda i, v: nodes.Object(
                [
                    _field("__typename", nodes.String("Release")),
                    _field("projectId", nodes.String(i)),
                    _field("version", nodes.String(v)),
                ]
            ),
            _KEY,
            st.sampled_from(["web@1.0.0", "web@1.1.0", ""]),
        ),
        st.text(max_size=10).map(nodes.String),
        st.integers().map(nodes.Int),
    ),
)


def _field(name, value):
    from graphql import NameNode, ObjectFieldNode

    return ObjectFieldNode(name=NameNode(value=name), value=value)


def _increments(now: float) -> list[SessionIncrement]:
    rng = random.Random(7)
    out = []
    for hour in range(72):
        for project, release in ((1, "web@1.0.0"), (1, "web@1.1.0"), (2, "app@2.0")):
            env = rng.choice(["production", "staging", None])
            crashed = rng.random() < 0.2
            user = f"u{rng.randrange(20)}"
            tags = USER_SEEN | ((USER_ERRORED | USER_CRASHED) if crashed else 0)
            out.append(
                SessionIncrement(
                    project,
                    release,
                    env,
                    now - hour * 3600 - 60,
                    started_count=1,
                    crashed=int(crashed),
                    error_sid=str(uuid.UUID(int=rng.getrandbits(128))) if crashed else None,
                    user=user,
                    user_tags=tags,
                    duration=rng.uniform(1, 600),
                )
            )
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `relhealth serve` process (its memory is measured apart from the fuzzer's)
    on a SQLite store with three days of sessions before its own clock's now."""
    root = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{root / 'relhealth.db'}"
    env = {"RELHEALTH_DATABASE_URL": url}
    for org, slug, project_id in (("acme", "web", 1), ("acme", "app", 2), ("globex", "shop", 3)):
        created = relhealth("projects", "create", org, slug, "--id", str(project_id), env=env)
        assert created.returncode == 0, created.stderr
    issued = relhealth("tokens", "create", "acme", "--scope", "org:read", env=env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.split()[-1]
    asyncio.run(_fill(url, time.time()))
    port = free_port()
    proc = start_server(url, port, log=root / "server.log")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    try:
        yield f"http://127.0.0.1:{port}", session, proc.pid
    finally:
        session.close()
        proc.terminate()
        proc.wait(timeout=30)


async def _fill(url: str, now: float) -> None:
    engine = create_engine(url)
    try:
        await SessionStore(engine).apply([WriteBatch(_increments(now))])
    finally:
        await engine.dispose()


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Budget:
    """The checks every response must pass, and the figures of the run."""

    def __init__(self) -> None:
        self.requests = 0
        self.slowest = 0.0
        self.statuses: dict[int, int] = {}
        self.outcomes: dict[str, int] = {}
        self.slowest_case = None
        #: RSS growth in MiB every 250 requests: a plateau is a cache filling, a slope a leak
        self.rss_samples: list[int] = []

    def check(self, case, response, elapsed: float) -> None:
        self.requests += 1
        if elapsed > self.slowest:
            self.slowest, self.slowest_case = elapsed, case
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        text = response.content[:500].decode(errors="replace")
        where = f"{case.as_curl_command()}\n-> {response.status_code} {text}"
        assert response.status_code < 500, where
        assert elapsed < MAX_LATENCY, f"{elapsed:.2f} s: {where}"
        content_type = " ".join(response.headers.get("content-type", []))  # lists of values
        if "json" in content_type:
            body = json.loads(response.content)
            errors = body.get("errors") if isinstance(body, dict) else None
            for error in errors or []:
                assert error["message"] != "Unexpected error.", where
            code = (errors[0].get("extensions") or {}).get("code", "VALIDATION") if errors else "data"
            self.outcomes[code] = self.outcomes.get(code, 0) + 1

    def report(self, name: str, started: float, rss_growth: int) -> str:
        return (
            f"{name}: {self.requests} requests in {time.perf_counter() - started:.1f} s, slowest "
            f"{self.slowest * 1000:.0f} ms, RSS +{rss_growth / 2**20:.1f} MiB, statuses {self.statuses}, {self.outcomes}, RSS growth every 250: {self.rss_samples}"
        )


def _fuzz(strategy, call, max_examples: int, name: str, pid: int) -> Budget:
    budget = Budget()
    # warm up (imports, caches, connections) before taking the memory baseline
    started = time.perf_counter()
    rss_before = None

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        nonlocal rss_before
        if rss_before is None:
            rss_before = _rss(pid)
        if budget.requests % 250 == 0:
            budget.rss_samples.append((_rss(pid) - rss_before) // 2**20)
        t0 = time.perf_counter()
        response = call(case)
        budget.check(case, response, time.perf_counter() - t0)

    run()
    growth = _rss(pid) - (rss_before or 0)
    print(budget.report(name, started, growth))
    print("slowest:", budget.slowest_case.body if name == "graphql" else budget.slowest_case.query)
    assert growth < MAX_RSS_GROWTH, budget.report(name, started, growth)
    return budget


@pytest.mark.parametrize("path", ["/graphql", "/graphql/v1"], ids=["v2", "v1"])
def test_graphql_fuzz(server, path):
    base_url, session, pid = server
    schema = schemathesis.graphql.from_url(f"{base_url}{path}", headers=dict(session.headers))
    strategies = [result.ok().as_strategy() for result in schema.get_all_operations()]
    # every root field, `_entities` included (v2 has entry points only)
    assert len(strategies) >= (10 if path.endswith("/v1") else 8)
    _fuzz(
        st.one_of(strategies),
        lambda case: case.call(base_url=base_url, session=session, timeout=30),
        max_examples=MAX_EXAMPLES,
        name="graphql",
        pid=pid,
    )


SESSIONS_PATH = "/api/0/organizations/{org}/sessions/"
COMPARISON_PATH = "/api/0/organizations/{org}/releases/{version}/comparison/"


def _operation(path: str = SESSIONS_PATH):
    schema = schemathesis.openapi.from_dict(json.loads(SPEC.read_text()))
    (result,) = [r for r in schema.get_all_operations() if r.ok().path == path]
    return result.ok()


#: Values that reach the store (the spec's schemas alone rarely make a valid range):
#: mixed into generated cases so that the fuzzer exercises answers, not only errors.
RANGES = [
    ("1h", "1m"),
    ("24h", "1h"),
    ("2d", "1h"),
    ("7d", "1d"),
    ("14d", "6h"),
    ("90d", "1d"),
    ("1d", "10m"),
]
REALISTIC = {
    "project": st.lists(st.sampled_from([1, 2, -1]), max_size=2),
    "environment": st.lists(st.sampled_from(["production", "staging"]), max_size=2),
    "query": st.sampled_from(
        [
            "release:web@1.0.0",
            "release:[web@1.0.0, app@2.0] OR environment:staging",
            "!release:web@1.1.0 (environment:production OR environment:staging)",
            "session.status:crashed",
            "release:latest",
            "release.version:>1.0",
            "project:web",
        ]
    ),
    "now": st.sampled_from([_iso(time.time() - 3600 * h) for h in (0, 12, 30)]),
    "groupBy": st.lists(st.sampled_from(sorted(GROUP_BY)), max_size=2),
}


@st.composite
def _realistic(draw, strategy):
    case = draw(strategy)
    case.query["statsPeriod"], case.query["interval"] = draw(st.sampled_from(RANGES))
    for name in ("start", "end", "orderBy", "cursor", "per_page"):
        if name in ("start", "end") or draw(st.booleans()):
            case.query.pop(name, None)
    for name, values in REALISTIC.items():
        if draw(st.booleans()):
            case.query[name] = draw(values)
    return case


def test_sessions_endpoint_fuzz(server):
    base_url, session, pid = server
    operation = _operation()
    orgs = st.sampled_from(["acme", "acme", "acme", "globex", "nope"])
    positive = orgs.flatmap(lambda org: operation.as_strategy(path_parameters={"org": org}))
    negative = orgs.flatmap(
        lambda org: operation.as_strategy(GenerationMode.NEGATIVE, path_parameters={"org": org})
    )
    auth = {"Authorization": session.headers["Authorization"]}
    budget = _fuzz(
        st.one_of(_realistic(positive), positive, negative),
        # the spec's bearer scheme makes schemathesis send random tokens: use the real one
        lambda case: case.call(base_url=base_url, session=session, headers=auth, timeout=30),
        max_examples=MAX_EXAMPLES,
        name="sessions",
        pid=pid,
    )
    # answers were exercised too, not only errors (typically 20-45 of 250 cases)
    assert budget.statuses.get(200, 0) >= MAX_EXAMPLES // 25, budget.statuses


def test_comparison_endpoint_fuzz(server):
    base_url, session, pid = server
    operation = _operation(COMPARISON_PATH)
    versions = st.sampled_from(["web@1.0.0", "web@1.1.0", "app@2.0", "nope"])
    path = st.fixed_dictionaries({"org": st.sampled_from(["acme", "acme", "nope"]), "version": versions})
    positive = path.flatmap(lambda p: operation.as_strategy(path_parameters=p))
    negative = path.flatmap(lambda p: operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=p))
    realistic = {
        "project": st.sampled_from(["1", "2"]),
        "against": st.sampled_from(["previous", "baseline", "release:web@1.0.0", "release:nope"]),
        "query": st.sampled_from(["os.name:iOS", "release:web@1.1.0", "session.status:crashed"]),
        "environment": st.lists(st.sampled_from(["production", "staging"]), max_size=2),
    }

    @st.composite
    def answers(draw, strategy):
        case = draw(strategy)
        case.query["statsPeriod"] = draw(st.sampled_from(["1h", "24h", "7d", "90d"]))
        for name in ("start", "end"):
            case.query.pop(name, None)
        for name, values in realistic.items():
            if name in ("project", "against") or draw(st.booleans()):
                case.query[name] = draw(values)
        return case

    auth = {"Authorization": session.headers["Authorization"]}
    budget = _fuzz(
        st.one_of(answers(positive), positive, negative),
        lambda case: case.call(base_url=base_url, session=session, headers=auth, timeout=30),
        max_examples=MAX_EXAMPLES // 2,
        name="comparison",
        pid=pid,
    )
    assert budget.statuses.get(200, 0) >= MAX_EXAMPLES // 25, budget.statuses


def test_the_spec_lists_every_parameter_and_value():
    spec = json.loads(SPEC.read_text())
    params = {
        p["name"]: p for p in spec["paths"]["/api/0/organizations/{org}/sessions/"]["get"]["parameters"]
    }
    assert set(params) == {
        "org",
        "field",
        "groupBy",
        "query",
        "statsPeriod",
        "start",
        "end",
        "interval",
        "project",
        "environment",
        "orderBy",
        "per_page",
        "cursor",
        "includeTotals",
        "includeSeries",
        "now",
    }
    assert set(params["field"]["schema"]["items"]["enum"]) == set(FIELDS)
    assert set(params["groupBy"]["schema"]["items"]["enum"]) == set(GROUP_BY)
