"""Estimated distinct counts are flagged, exact ones are not (README, "Exact and approximate
answers"): a release with more users than a sketch keeps exactly is estimated within the
stated error and named in REST's `Relhealth-Approximate` header and GraphQL's
`extensions.approximate`; a small release stays exact and unflagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.distinct import EXACT_UP_TO, RELATIVE_STANDARD_ERROR
from storage.types import USER_CRASHED, USER_ERRORED, USER_SEEN, SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
URL = "/api/0/organizations/acme/sessions/"
#: Beyond the exact range of one sketch (exact up to at least EXACT_UP_TO members; an
#: update sketch switches to estimating somewhere below twice that).
BIG = 3 * EXACT_UP_TO
#: Four standard errors: a false failure about once in 16,000 runs, but the sketch is
#: deterministic (fixed seed and members), so a pass is a pass for good.
TOLERANCE = 4 * RELATIVE_STANDARD_ERROR


def _user(release: str, n: int, *, crashed: bool = False) -> SessionIncrement:
    tags = USER_SEEN | (USER_ERRORED | USER_CRASHED if crashed else 0)
    return SessionIncrement(
        1,
        release,
        "production",
        NOW - 3600,
        started_count=1,
        crashed=int(crashed),
        user=f"user-{n}",
        user_tags=tags,
    )


@pytest.fixture
async def app(make_app, database_url):
    app = await make_app(Settings(database_url=database_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "p1", 1)
    app.token = await app.services.accounts.create_token("acme", ["org:read"])
    big = [_user("big@1", n) for n in range(BIG)]
    small = [_user("small@1", n, crashed=n == 0) for n in range(3)]
    await app.services.store.apply([WriteBatch(big + small)])
    return app


async def _rest(app, query: str):
    return await app.client.get(f"{URL}?{query}", headers={"Authorization": f"Bearer {app.token}"})


async def test_rest_flags_an_estimated_user_count(app):
    r = await _rest(app, "project=1&statsPeriod=1d&interval=1d&field=count_unique(user)&groupBy=release")
    assert r.status_code == 200
    totals = {g["by"]["release"]: g["totals"]["count_unique(user)"] for g in r.json()["groups"]}
    assert totals["small@1"] == 3
    assert abs(totals["big@1"] - BIG) <= TOLERANCE * BIG
    assert r.headers["Relhealth-Approximate"] == f"users; rse={RELATIVE_STANDARD_ERROR:.4f}"


async def test_rest_exact_answer_has_no_flag(app):
    r = await _rest(
        app,
        "project=1&statsPeriod=1d&interval=1d&field=count_unique(user)"
        "&field=crash_free_rate(user)&query=release:small@1",
    )
    assert r.status_code == 200
    totals = r.json()["groups"][0]["totals"]
    assert totals == {"count_unique(user)": 3, "crash_free_rate(user)": 1 - 1 / 3}
    assert "Relhealth-Approximate" not in r.headers


async def _gql(app, version: str):
    q = (
        """query($now: DateTime) { release(projectId: "1", version: "%s") {
      health(now: $now, healthStatsPeriod: "24h") { totalUsers } } }"""
        % version
    )
    r = await app.client.post(
        "/graphql/v1",
        json={"query": q, "variables": {"now": "2025-06-02T10:00:30Z"}},
        headers={"Authorization": f"Bearer {app.token}"},
    )
    assert r.status_code == 200
    return r.json()


async def test_graphql_reports_estimates_in_extensions(app):
    body = await _gql(app, "big@1")
    assert abs(body["data"]["release"]["health"]["totalUsers"] - BIG) <= TOLERANCE * BIG
    assert body["extensions"]["approximate"] == {
        "kinds": ["users"],
        "relativeStandardError": RELATIVE_STANDARD_ERROR,
    }


async def test_graphql_exact_answer_has_no_approximate_extension(app):
    body = await _gql(app, "small@1")
    assert body["data"]["release"]["health"]["totalUsers"] == 3
    assert "approximate" not in body.get("extensions", {})
