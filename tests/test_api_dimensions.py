"""Sessions by SDK, OS and browser over REST and GraphQL: every field per client value,
including crash-free rates and `count_unique(user)`, worked by hand from the data of
`tests/test_storage_dimensions.py`:

    os.name   sessions  crashed  users  crashed users  crash-free sessions  crash-free users
    iOS       4         1        2      1              0.75                 0.5
    Android   2         1        2      1              0.5                  0.5
    Windows   1         1        1      1              0.0                  0.0
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend_support import Backend, backend
from tests.test_storage_dimensions import sessions

URL = "/api/0/organizations/acme/sessions/"
FIELDS = ["sum(session)", "count_unique(user)", "crash_free_rate(session)", "crash_free_rate(user)"]
BY_OS = {
    "iOS": [4, 2, 0.75, 0.5],
    "Android": [2, 2, 0.5, 0.5],
    "Windows": [1, 1, 0.0, 0.0],
}


@pytest.fixture
async def b(make_app: Any, database_url: str) -> Backend:
    handle = await backend(make_app, database_url)
    await handle.write(*sessions())
    return handle


async def rest(b: Backend, **params: Any) -> Any:
    query = [("field", f) for f in FIELDS] + [("statsPeriod", "1d"), ("interval", "1h")]
    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        query += [(key, v) for v in values]
    return await b.app.client.get(URL, params=query, headers={"Authorization": f"Bearer {b.token}"})


async def test_rest_group_by_os_name(b: Backend) -> None:
    r = await rest(b, groupBy="os.name")
    assert r.status_code == 200, r.text
    got = {g["by"]["os.name"]: [g["totals"][f] for f in FIELDS] for g in r.json()["groups"]}
    assert got == BY_OS
    ios = next(g for g in r.json()["groups"] if g["by"]["os.name"] == "iOS")
    # The series has the four iOS sessions in the 10:00 bucket and nothing elsewhere.
    assert sum(v for v in ios["series"]["sum(session)"]) == 4


async def test_rest_filter_and_majors(b: Backend) -> None:
    r = await rest(b, groupBy="release", query="os.name:iOS")
    assert r.status_code == 200, r.text
    [group] = r.json()["groups"]
    assert group["by"] == {"release": "r1"}
    assert [group["totals"][f] for f in FIELDS] == BY_OS["iOS"]

    r = await rest(b, groupBy="os.major", query='os.name:iOS !os.major:"iOS 17"')
    assert r.status_code == 200, r.text
    # iOS 16: sessions 3 and 4, users u1 and u3, nothing crashed.
    assert {g["by"]["os.major"]: [g["totals"][f] for f in FIELDS] for g in r.json()["groups"]} == {
        "iOS 16": [2, 2, 1.0, 1.0]
    }

    r = await rest(b, groupBy="browser.name", query="sdk.name:sentry.javascript.browser")
    assert r.status_code == 400  # sdk and browser: two families
    r = await rest(b, groupBy="sdk.name")
    assert {g["by"]["sdk.name"]: g["totals"]["sum(session)"] for g in r.json()["groups"]} == {
        "sentry.cocoa": 4,
        "sentry.java.android": 2,
        "sentry.javascript.browser": 1,
    }


async def test_rest_errors(b: Backend) -> None:
    r = await rest(b, groupBy=["os.name", "browser.name"])
    assert r.status_code == 400
    assert "one family" in r.json()["detail"]
    r = await rest(b, groupBy="os.name", interval="5m")
    assert r.status_code == 400
    assert "at least 1h" in r.json()["detail"]
    r = await rest(b, query="os.name:>iOS")
    assert r.status_code == 400


GQL = """query($q: SessionsQueryInput!) {
  sessions(organization: "acme", query: $q) {
    groups { by { osName osMajor browserName } totals { field value count } }
  }
}"""


async def test_graphql_group_by_os_name(b: Backend) -> None:
    q = {"fields": FIELDS, "groupBy": ["os.name"], "statsPeriod": "1d", "interval": "1h"}
    data = await b.data(GQL, q=q)
    got = {g["by"]["osName"]: [t["value"] for t in g["totals"]] for g in data["sessions"]["groups"]}
    assert got == {k: [float(v) for v in vs] for k, vs in BY_OS.items()}
    assert all(g["by"]["osMajor"] is None for g in data["sessions"]["groups"])


async def test_graphql_filter_and_one_family_error(b: Backend) -> None:
    q = {"fields": FIELDS, "query": "browser.name:Chrome", "statsPeriod": "1d", "interval": "1h"}
    data = await b.data(GQL, q=q)
    [group] = data["sessions"]["groups"]
    assert [t["value"] for t in group["totals"]] == [1.0, 1.0, 0.0, 0.0]
    q = {"fields": FIELDS, "groupBy": ["os.name"], "query": "browser.name:Chrome", "statsPeriod": "1d"}
    body = await b.gql(GQL, q=q)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "one family" in error["message"]


SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)


def _envelope(sdk: str, sid: str) -> bytes:
    return (
        f'{{"sdk":{{"name":"{sdk}","version":"8.9.0"}}}}\n{{"type":"session"}}\n'
        f'{{"sid":"{sid}","did":"u-{sid[:4]}","init":true,"started":"2021-01-14T20:00:00Z",'
        '"status":"exited","duration":12,"attrs":{"release":"web@2.0"}}\n'
    ).encode()


async def test_http_ingest_to_per_browser_answer(make_app: Any, database_url: str) -> None:
    b = await backend(make_app, database_url)
    project, key = await b.accounts.create_project("acme", "site", 7)
    sent = [
        # A browser SDK's session: its client is the request's User-Agent.
        ("sentry.javascript.browser", "aaaa0000000040008000000000000001", SAFARI_IPHONE),
        # A server SDK relaying a browser's request: its User-Agent is no end user's client.
        ("sentry.python", "bbbb0000000040008000000000000002", CHROME_WINDOWS),
    ]
    for sdk, sid, agent in sent:
        r = await b.app.client.post(
            f"/api/{project.id}/envelope/",
            content=_envelope(sdk, sid),
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key}", "User-Agent": agent},
        )
        assert r.status_code == 200, r.text
    for group_by, expected in [
        ("browser.major", {"Mobile Safari 17": 1}),
        ("os.major", {"iOS 17": 1}),
        ("sdk.name", {"sentry.javascript.browser": 1, "sentry.python": 1}),
    ]:
        r = await rest(b, groupBy=group_by, project=str(project.id))
        assert r.status_code == 200, r.text
        assert {g["by"][group_by]: g["totals"]["sum(session)"] for g in r.json()["groups"]} == expected


async def test_rest_order_ties_break_by_client_value(b: Backend) -> None:
    # count_unique(user): iOS 2, Android 2, Windows 1; the tie goes by name, ascending.
    r = await rest(b, groupBy="os.name", orderBy="-count_unique(user)", per_page="2")
    assert r.status_code == 200, r.text
    assert [g["by"]["os.name"] for g in r.json()["groups"]] == ["Android", "iOS"]
