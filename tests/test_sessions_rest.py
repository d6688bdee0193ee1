"""GET /api/0/organizations/{org}/sessions/ over HTTP on a real store (SQLite and
PostgreSQL): the worked examples of release-health.md 8.14, auth, Link headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.types import SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
BASE = "project=1&statsPeriod=1d&interval=1d"
URL = "/api/0/organizations/acme/sessions/"


def _inc(release, env, *, started=1, crashed=0, sid=None):
    return SessionIncrement(
        1, release, env, NOW - 3600, started_count=started, crashed=crashed, error_sid=sid
    )


@pytest.fixture
async def api(make_app, database_url):
    app = await make_app(Settings(database_url=database_url), FixedClock(NOW))
    acc = app.services.accounts
    await acc.create_project("acme", "p1", 1)
    await acc.create_project("globex", "g", 2)
    token = await acc.create_token("acme", ["org:read"])
    # foo@1.0.0/production: 3 started, one of which crashed (its crashed update put it
    # in the error set); foo@1.0.0/development: 1; foo@1.1.0/production: 1.
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    _inc("foo@1.0.0", "production", started=3),
                    _inc(
                        "foo@1.0.0",
                        "production",
                        started=0,
                        crashed=1,
                        sid="00000000-0000-4000-8000-000000000001",
                    ),
                    _inc("foo@1.0.0", "development"),
                    _inc("foo@1.1.0", "production"),
                ]
            )
        ]
    )

    async def get(query: str, token_: str | None = token):
        headers = {"Authorization": f"Bearer {token_}"} if token_ else {}
        return await app.client.get(f"{URL}?{query}", headers=headers)

    return get


INTERVALS = ["2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"]


async def test_sum_session(api):
    r = await api(f"{BASE}&field=sum(session)")
    assert r.status_code == 200
    assert r.json() == {
        "start": "2025-06-01T00:00:00Z",
        "end": "2025-06-03T00:00:00Z",
        "intervals": INTERVALS,
        "groups": [{"by": {}, "totals": {"sum(session)": 5}, "series": {"sum(session)": [0, 5]}}],
        "query": "",
    }


@pytest.mark.parametrize("extra", ["environment=development", "query=environment:development"])
async def test_environment_filter(api, extra):
    r = await api(f"{BASE}&field=sum(session)&{extra}")
    assert r.json()["groups"][0]["totals"] == {"sum(session)": 1}


async def test_group_by_status(api):
    r = await api(f"{BASE}&field=sum(session)&groupBy=session.status")
    groups = {g["by"]["session.status"]: g["totals"]["sum(session)"] for g in r.json()["groups"]}
    assert [g["by"]["session.status"] for g in r.json()["groups"]] == [
        "abnormal",
        "crashed",
        "errored",
        "healthy",
        "unhandled",
    ]
    # errored_all 1 (error set) - crashed 1 = 0 errored; healthy 5 - 1 = 4.
    assert groups == {"abnormal": 0, "crashed": 1, "errored": 0, "healthy": 4, "unhandled": 0}


async def test_crash_free_rate_ordering(api):
    r = await api(
        f"{BASE}&field=crash_free_rate(session)&groupBy=release&groupBy=environment"
        "&orderBy=crash_free_rate(session)&query=release:foo@1.0.0"
    )
    groups = r.json()["groups"]
    assert [g["by"] for g in groups] == [
        {"release": "foo@1.0.0", "environment": "production"},
        {"release": "foo@1.0.0", "environment": "development"},
    ]
    assert groups[0]["totals"] == {"crash_free_rate(session)": 1 - 1 / 3}
    assert groups[0]["totals"]["crash_free_rate(session)"] == 0.6666666666666667
    assert groups[1]["totals"] == {"crash_free_rate(session)": 1.0}
    assert groups[0]["series"]["crash_free_rate(session)"][0] is None


async def test_pagination_and_link_header(api):
    q = f"{BASE}&field=sum(session)&groupBy=release&orderBy=sum(session)&per_page=1"
    r = await api(q)
    assert [(g["by"]["release"], g["totals"]["sum(session)"]) for g in r.json()["groups"]] == [
        ("foo@1.1.0", 1)
    ]
    link = r.headers["link"]
    assert 'rel="previous"; results="false"; cursor="0:0:1"' in link
    assert 'rel="next"; results="true"; cursor="0:1:0"' in link
    r = await api(q + "&cursor=0:1:0")
    assert [(g["by"]["release"], g["totals"]["sum(session)"]) for g in r.json()["groups"]] == [
        ("foo@1.0.0", 4)
    ]
    assert 'rel="next"; results="false"' in r.headers["link"]
    assert 'rel="previous"; results="true"; cursor="0:0:1"' in r.headers["link"]


async def test_errors_and_short_circuits(api):
    r = await api(f"{BASE}&field=crash_rate(session)&query=session.status:[abnormal,crashed]")
    assert r.status_code == 400
    assert r.json() == {"detail": "Cannot filter field crash_rate(session) by session.status"}
    r = await api(f"{BASE}&field=sum(session)&query=session.status:bogus")
    assert r.status_code == 200 and r.json()["groups"] == []
    r = await api(f"{BASE}&field=bogus")
    assert r.json() == {"detail": 'Invalid field: "bogus"'}
    r = await api("project=1&field=sum(session)&statsPeriod=90d&interval=1h")
    assert r.json()["detail"].startswith("Your interval and date range would create too many results")
    r = await api(f"{BASE}&field=sum(session)&environment=nope")
    assert r.status_code == 404 and r.json() == {"detail": "The requested resource does not exist"}
    r = await api(f"{BASE}&field=sum(session)".replace("project=1", "project=2"))
    assert r.status_code == 403


async def test_auth(api):
    r = await api(f"{BASE}&field=sum(session)", token_=None)
    assert r.status_code == 401
    r = await api(f"{BASE}&field=sum(session)", token_="rh_bad")
    assert r.status_code == 401
