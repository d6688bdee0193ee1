"""Query cost: computed before execution, a maximum per operation, a per-token budget, and
the cost reported in `extensions.cost` and `Query.rateLimit` (README "Query cost and
limits")."""

from __future__ import annotations

import time

import pytest
from graphql import parse

from gql.core.budget import CostBudget
from gql.core.cost import CostLimitExceeded, CostLimits, query_cost
from gql.core.cost_rules import V1_MODEL
from gql.v1.schema import build_v1_schema as build_schema
from storage.engine import StatementCounter
from tests.backend_support import WEB, backend, session, sid, ts

SCHEMA = build_schema()._schema
UNLIMITED = CostLimits(max_cost=10**15)

STATS = 'stats(stat: SESSIONS, interval: "1h", start: "2025-01-01T00:00:00Z", end: "2025-02-11T00:00:00Z") { intervals total }'
#: The issue's query: 30 aliases x releases(first: 500) x stats at 1h over 41 days.
ATTACK = (
    "{ "
    + " ".join(
        f'a{i}: releases(projectIds: ["1"], first: 500, period: "90d") {{ nodes {{ version {STATS} }} }}'
        for i in range(30)
    )
    + " }"
)


def cost(query: str, limits: CostLimits = UNLIMITED, **variables: object) -> int:
    return query_cost(SCHEMA, parse(query), variables=variables, limits=limits, model=V1_MODEL)


def test_lists_multiply_by_first():
    one = cost('{ releases(projectIds: ["1"], first: 1) { nodes { version } } }')
    ten = cost('{ releases(projectIds: ["1"], first: 10) { nodes { version } } }')
    # releases (1 + database weight 5), then per node: the node and its version.
    assert (one, ten) == (6 + 2, 6 + 20)
    # The default page is 25.
    assert cost('{ releases(projectIds: ["1"]) { nodes { version } } }') == 6 + 50


def test_variables_are_read():
    q = 'query($n: Int!) { releases(projectIds: ["1"], first: $n) { nodes { version } } }'
    assert cost(q, n=3) == 6 + 6
    assert cost(q, n=300) == 6 + 600


def test_series_cost_their_buckets():
    # 41 days at 1 h: 984 buckets, in each of the two lists asked for.
    q = '{ release(projectId: "1", version: "a") { %s } }' % STATS
    assert cost(q) == 1 + 6 + 2 * 984
    daily = q.replace('"1h"', '"1d"')
    assert cost(daily) == 1 + 6 + 2 * 41
    # A health stats period has its own buckets: 24 h hourly, 14 d daily.
    h = '{ release(projectId: "1", version: "a") { health(healthStatsPeriod: "%s") { series { values } } } }'
    assert cost(h % "24h") == 1 + 6 + 1 + 24
    assert cost(h % "14d") == 1 + 6 + 1 + 14


def test_sessions_costs_its_own_data_point_budget():
    """The sessions query bounds groups x intervals itself (RELHEALTH_MAX_DATA_POINTS): it
    costs that budget once, and the lists below it are not multiplied again."""
    q = (
        '{ sessions(organization: "acme", query: {fields: ["sum(session)", "count_unique(user)"], '
        'groupBy: ["release"], statsPeriod: "14d", interval: "1h"}) { intervals groups { by { release } '
        "totals { field value } series { field values } } } }"
    )
    assert cost(q) == 1 + 5 + 10_000 + 10
    assert cost(q, CostLimits(max_cost=10**9, max_data_points=500)) == 1 + 5 + 500 + 10


def test_aliases_and_fragments_count_like_written_out_fields():
    plain = cost('{ releases(projectIds: ["1"], first: 4) { nodes { version project { id } } } }')
    aliased = cost(
        '{ a: releases(projectIds: ["1"], first: 4) { nodes { version project { id } } }'
        '  b: releases(projectIds: ["1"], first: 4) { nodes { version project { id } } } }'
    )
    assert aliased == 2 * plain
    fragment = cost(
        'query { releases(projectIds: ["1"], first: 4) { nodes { ...R } } } '
        "fragment R on Release { version ... on Release { project { id } } }"
    )
    assert fragment == plain


def test_nested_releases_multiply():
    q = '{ releases(projectIds: ["1"], first: 100) { nodes { project { releases(first: 100) { nodes { version } } } } } }'
    assert cost(q) == 6 + 100 * (1 + 6 + 6 + 100 * 2)


def test_the_issue_query_is_far_over_the_maximum():
    with pytest.raises(CostLimitExceeded):
        cost(ATTACK, CostLimits())
    # 30 x 500 x (984 x 2 + ...): tens of millions of points.
    assert cost(ATTACK) > 29_000_000


def test_exponential_fragments_are_refused_within_the_limit_steps():
    # Each fragment spreads the next one twice: 2^40 leaves if expanded naively.
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} a{i}: __typename ...F{i + 1} }}" for i in range(40)
    )
    q = "{ ...F0 } " + fragments + " fragment F40 on Query { __typename }"
    started = time.perf_counter()
    with pytest.raises(CostLimitExceeded):
        cost(q, CostLimits(max_cost=100_000))
    assert time.perf_counter() - started < 5


def test_budget_refills_continuously():
    now = [1000.0]
    budget = CostBudget(100, 10, clock=lambda: now[0])
    assert budget.charge("t", 60).remaining == 40
    refused = budget.charge("t", 60)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(2.0)  # 20 points missing at 10 points/s
    assert budget.charge("other", 60).allowed  # per token
    now[0] += 2
    state = budget.charge("t", 60)
    assert state.allowed and state.remaining == 0
    assert state.reset_at == pytest.approx(now[0] + 10)


# -- over HTTP -------------------------------------------------------------------------


async def test_over_the_maximum_is_refused_before_execution(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    await b.write(session(WEB, "r1", ts("2021-01-14T10:00:00Z"), sid=sid(1)))
    await b.gql("{ __typename }")  # the token is read once, then kept in process
    counter = StatementCounter(b.app.services.engine)
    try:
        r = await b.app.client.post(
            "/graphql/v1", json={"query": ATTACK}, headers={"Authorization": f"Bearer {b.token}"}
        )
        refused = counter.count
        counter.reset()
        await b.gql("{ __typename }")
        baseline = counter.count
    finally:
        counter.close()
    body = r.json()
    assert r.status_code == 200
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "maximum of 25000" in error["message"]
    # Nothing ran but authentication: the same statements as `{ __typename }`.
    assert refused == baseline
    assert body["extensions"]["cost"]["requested"] > 25_000


async def test_cost_and_budget_are_reported(make_app, sqlite_url):
    # A long window refills 0.01 point a second: what the second request finds left does not
    # depend on how slow the machine is between the two.
    b = await backend(make_app, sqlite_url, graphql_cost_budget=1000, graphql_cost_window=100_000)
    q = '{ releases(projectIds: ["1"], first: 10) { nodes { version } } rateLimit { cost limit remaining resetAt maxCost } }'
    first = await b.gql(q)
    assert "errors" not in first, first
    cost_ = first["extensions"]["cost"]
    assert cost_["requested"] == 6 + 20 + 1 + 5
    assert cost_["maximum"] == 25_000
    assert cost_["budget"]["limit"] == 1000
    assert cost_["budget"]["remaining"] == 1000 - 32
    assert cost_["budget"]["windowSeconds"] == 100_000
    rate = first["data"]["rateLimit"]
    assert rate["cost"] == 32
    assert rate["limit"] == 1000
    assert rate["remaining"] == 1000 - 32
    assert rate["maxCost"] == 25_000
    assert rate["resetAt"].endswith("Z")
    second = await b.gql(q)
    assert second["data"]["rateLimit"]["remaining"] == 1000 - 64  # refill below one point


async def test_over_the_budget_is_rate_limited_per_token(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_cost_budget=100, graphql_cost_window=3600)
    other = await b.accounts.create_token("acme", ["org:read"])
    q = '{ releases(projectIds: ["1"], first: 40) { nodes { version } } }'  # 86 points
    headers = {"Authorization": f"Bearer {b.token}"}
    ok = await b.app.client.post("/graphql/v1", json={"query": q}, headers=headers)
    assert ok.status_code == 200 and "errors" not in ok.json()
    refused = await b.app.client.post("/graphql/v1", json={"query": q}, headers=headers)
    assert refused.status_code == 429
    body = refused.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # 72 points missing at 100 points per hour: 2592 s.
    assert int(refused.headers["Retry-After"]) == pytest.approx(2592, abs=2)
    assert body["extensions"]["cost"]["budget"]["remaining"] == 14
    # Another token has its own budget.
    theirs = await b.app.client.post(
        "/graphql/v1", json={"query": q}, headers={"Authorization": f"Bearer {other}"}
    )
    assert theirs.status_code == 200 and "errors" not in theirs.json()


async def test_a_cost_above_the_budget_is_over_the_maximum(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_cost_budget=50)
    body = await b.gql('{ releases(projectIds: ["1"], first: 40) { nodes { version } } }')
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
