"""`release:latest` in the sessions query (REST and GraphQL): each requested project's
newest release, by first-seen time, ties by semver, as of the request's `now`, among the
requested environments."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from resolvers.sessions.release_filter import latest_releases
from tests.backend_support import API, SHOP, WEB, backend, session, ts

DAY = 86400
H = ts("2021-01-10T00:00:00Z")  # the server clock is 2021-01-15 (backend_support.CLOCK)

GQL = """query($q: String!, $env: [String!], $now: DateTime) { sessions(organization: "acme",
    query: {fields: ["sum(session)"], groupBy: ["release"], start: "2021-01-01T00:00:00Z",
    end: "2021-01-15T00:00:00Z", interval: "1d", query: $q, environments: $env, now: $now}) {
    groups { by { release } totals { value } } } }"""


@pytest.fixture
async def ask(make_app, database_url):  # type: ignore[no-untyped-def]
    b = await backend(make_app, database_url)
    await b.write(
        session(WEB, "web@1.0.0", H - 2 * DAY),
        session(WEB, "web@1.1.0", H),
        session(WEB, "web@1.1.0", H + 1),
        session(WEB, "web@1.2.0", H + 3 * DAY),
        session(WEB, "web@9.9.9", H + 4 * DAY, env="staging"),
        # Same first second in API: semver order decides (2.0 is newer than 1.10).
        session(API, "api@1.10", H + 3600),
        session(API, "api@2.0", H + 3600),
        session(SHOP, "shop@5.0", H + 4 * DAY),  # another organization: never involved
    )

    async def query(
        q: str, *, env: str | None = None, now: str | None = None, api: str = "rest"
    ) -> dict[str, int]:
        if api == "graphql":
            data = await b.data(GQL, q=q, env=[env] if env else None, now=now)
            return {g["by"]["release"]: int(g["totals"][0]["value"]) for g in data["sessions"]["groups"]}
        params = [
            ("field", "sum(session)"),
            ("groupBy", "release"),
            ("interval", "1d"),
            ("start", "2021-01-01T00:00:00Z"),
            ("end", "2021-01-15T00:00:00Z"),
            ("query", q),
        ]
        params += [("environment", env)] if env else []
        params += [("now", now)] if now else []
        r = await b.app.client.get(
            f"/api/0/organizations/acme/sessions/?{urlencode(params)}",
            headers={"Authorization": f"Bearer {b.token}"},
        )
        assert r.status_code == 200, r.text
        return {g["by"]["release"]: g["totals"]["sum(session)"] for g in r.json()["groups"]}

    return query


@pytest.mark.parametrize("api", ["rest", "graphql"])
async def test_latest_release_of_each_project(ask, api):
    # Every environment: WEB's newest is the staging-only 9.9.9.
    assert await ask("release:latest", api=api) == {"web@9.9.9": 1, "api@2.0": 1}
    # In production only.
    assert await ask("release:latest", env="production", api=api) == {"web@1.2.0": 1, "api@2.0": 1}
    # As of a past `now`: 1.2.0 and 9.9.9 were not seen yet.
    assert await ask("release:latest", now="2021-01-11T00:00:00Z", api=api) == {"web@1.1.0": 2, "api@2.0": 1}
    # Before any release of API existed: only WEB has a latest release.
    assert await ask("release:latest", now="2021-01-10T00:30:00Z", api=api) == {"web@1.1.0": 2}
    # Lists, negation and boolean expressions.
    assert await ask("release:[latest, web@1.0.0]", env="production", api=api) == {
        "web@1.0.0": 1,
        "web@1.2.0": 1,
        "api@2.0": 1,
    }
    assert await ask("!release:latest", env="production", api=api) == {
        "web@1.0.0": 1,
        "web@1.1.0": 2,
        "api@1.10": 1,
    }
    assert await ask("release:latest OR release:web@1.0.0", env="production", api=api) == {
        "web@1.0.0": 1,
        "web@1.2.0": 1,
        "api@2.0": 1,
    }
    # Restricted to one project by the query: that project's latest only.
    assert await ask("project:web release:latest", env="production", api=api) == {"web@1.2.0": 1}


def test_latest_rule() -> None:
    seen = {
        1: {"a@1.0.0": 100, "a@1.0.1": 200, "a@2.0.0": 300},
        2: {"build-7": 50, "b@1.0.0": 50, "b@0.9.0": 50},
        3: {"c@1.0": 500},
    }
    assert latest_releases(seen, now=250) == {"a@1.0.1", "b@1.0.0"}
    assert latest_releases(seen, now=1000) == {"a@2.0.0", "b@1.0.0", "c@1.0"}
    assert latest_releases(seen, now=10) == set()
