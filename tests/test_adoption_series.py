"""`ReleaseHealth.adoptionSeries`: per bucket, 100 x the release's sessions (or distinct
users) / the project's, in the scope's environments; null where the project has none.
Numbers worked out by hand on sessions written here; a page of releases costs the same
statements as one release."""

from __future__ import annotations

from typing import Any

from storage.engine import StatementCounter
from tests.backend_support import API, WEB, backend, session, sid, ts

#: The window: the 24 hours before 12:30, whose hourly buckets are 13:00 the day before
#: (the next boundary strictly after the start) to 12:00.
AT = "2021-01-14T12:30:00Z"
H10, H11, H12 = "2021-01-14T10:00:00Z", "2021-01-14T11:00:00Z", "2021-01-14T12:00:00Z"


def _query(envs: str, stat: str = "SESSIONS", first: int = 10) -> str:
    return f"""{{ organization(slug: "acme") {{
      health(scope: {{window: {{period: LAST_24_HOURS}}, at: "{AT}"{envs}}}) {{
        releases(first: {first}) {{ nodes {{
          release {{ version }}
          adoptionSeries(interval: HOUR, stat: {stat}) {{ stat intervals rate }}
        }} }} }} }} }}"""


async def _series(b: Any, query: str) -> dict[str, dict[str, Any]]:
    r = await b.app.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {b.token}"}
    )
    body = r.json()
    assert "errors" not in body, body
    nodes = body["data"]["organization"]["health"]["releases"]["nodes"]
    return {n["release"]["version"]: n["adoptionSeries"] for n in nodes}


def _rates(series: dict[str, Any]) -> list[float | None]:
    """The rates of 10:00, 11:00 and 12:00; every earlier bucket of the window is null."""
    assert len(series["intervals"]) == len(series["rate"]) == 24
    assert series["intervals"][0] == "2021-01-13T13:00:00Z"
    assert series["intervals"][-3:] == [H10, H11, H12]
    assert series["rate"][:-3] == [None] * 21
    return list(series["rate"][-3:])


async def _written(make_app: Any, url: str) -> Any:
    b = await backend(make_app, url)
    t10, t11 = ts(H10), ts(H11)
    await b.write(
        # 10:00, production: web@1 3 sessions (users a, b, b), web@2 1 (user b).
        session(WEB, "web@1", t10 + 60, user="a"),
        session(WEB, "web@1", t10 + 120, user="b"),
        session(WEB, "web@1", t10 + 180, user="b"),
        session(WEB, "web@2", t10 + 240, user="b"),
        # 10:00, staging: web@2 4 sessions (user c).
        *[session(WEB, "web@2", t10 + 300 + i, env="staging", user="c") for i in range(4)],
        # 11:00, production: web@1 1 session, web@2 3.
        session(WEB, "web@1", t11 + 60, user="a"),
        *[session(WEB, "web@2", t11 + 120 + i, user=f"d{i}") for i in range(3)],
        # Another project's sessions change nothing of web's shares.
        *[session(API, "api@1", t10 + 60 + i) for i in range(5)],
    )
    return b


async def test_shares_per_bucket_in_the_scope_environments(make_app, database_url):
    b = await _written(make_app, database_url)
    prod = await _series(b, _query(', environments: ["production"]'))
    assert {s["stat"] for s in prod.values()} == {"SESSIONS"}
    # 10:00: 3 + 1 production sessions; 11:00: 1 + 3; 12:00: none (null, not 0).
    assert _rates(prod["web@1"]) == [75.0, 25.0, None]
    assert _rates(prod["web@2"]) == [25.0, 75.0, None]
    assert _rates(prod["api@1"]) == [100.0, None, None]

    # Every environment: 10:00 has 3 + 1 + 4 = 8 web sessions.
    every = await _series(b, _query(""))
    assert _rates(every["web@1"]) == [37.5, 25.0, None]
    assert _rates(every["web@2"]) == [62.5, 75.0, None]

    # Distinct users, production: 10:00 web has {a, b}; web@1 {a, b}, web@2 {b}.
    # 11:00: web {a, d0, d1, d2}; web@1 {a}, web@2 {d0, d1, d2}.
    users = await _series(b, _query(', environments: ["production"]', stat="USERS"))
    assert _rates(users["web@1"]) == [100.0, 25.0, None]
    assert _rates(users["web@2"]) == [50.0, 75.0, None]
    assert users["web@1"]["stat"] == "USERS"


async def test_a_page_costs_the_statements_of_one_release(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    await b.write(
        *[session(WEB, f"r{i:02d}", ts(H10) - 600 * i, user=f"u{i}", sid=sid(i)) for i in range(30)]
    )
    engine = b.app.services.engine

    async def count(n: int) -> tuple[int, dict[str, Any]]:
        query = _query("", first=n)
        await _series(b, query)  # the token and projects are then cached
        counter = StatementCounter(engine)
        try:
            found = await _series(b, query)
        finally:
            counter.close()
        return counter.count, found

    one, _ = await count(1)
    many, found = await count(30)
    assert len(found) == 30
    assert one == many > 0, (one, many)
    # r00 is the only release of 10:00 (11:00 and 12:00 have no sessions); 09:00 holds
    # r01-r06 (09:50 down to 09:00) and none of r00: 0, not null.
    rates = dict(zip(found["r00"]["intervals"], found["r00"]["rate"], strict=True))
    assert [rates[h] for h in ("2021-01-14T09:00:00Z", H10, H11, H12)] == [0.0, 100.0, None, None]
    assert dict(zip(found["r01"]["intervals"], found["r01"]["rate"], strict=True))[
        "2021-01-14T09:00:00Z"
    ] == (100 / 6)


async def test_bad_interval_is_a_clear_error(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    query = _query("").replace("LAST_24_HOURS", "LAST_90_DAYS").replace("interval: HOUR", "interval: MINUTE")
    await b.write(session(WEB, "web@1", ts(H10)))
    r = await b.app.client.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {b.token}"}
    )
    body = r.json()
    assert body.get("errors"), body
    assert r.status_code in (200, 400)
    assert all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in body["errors"])
