"""Federation entities: `_entities` resolves `Release` and `Project` references the way a
gateway sends them (keys under their GraphQL names), batched and organization-isolated."""

from __future__ import annotations

from datetime import UTC, datetime

import gql.federation.loaders
from server.clock import FixedClock
from server.settings import Settings
from storage.engine import StatementCounter
from storage.types import USER_CRASHED, USER_ERRORED, USER_SEEN, SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()

ENTITIES = """query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Release { projectId version health { totalSessions crashFreeSessions sessionsCrashed }
                     adoption { adoption sessionsAdoption } project { slug } }
    ... on Project { id slug organization { slug } }
  }
}"""


def _session(project: int, release: str, user: str, *, crashed: bool = False) -> SessionIncrement:
    tags = USER_SEEN | (USER_ERRORED | USER_CRASHED if crashed else 0)
    return SessionIncrement(
        project_id=project,
        release=release,
        environment="production",
        started=NOW - 600,
        started_count=1,
        crashed=int(crashed),
        error_sid="00000000-0000-4000-8000-00000000000%d" % len(user) if crashed else None,
        user=user,
        user_tags=tags,
    )


async def _setup(make_app, url):
    app = await make_app(Settings(database_url=url), clock=FixedClock(NOW))
    acc = app.services.accounts
    await acc.create_project("acme", "web", 1)
    await acc.create_project("globex", "shop", 2)
    token = await acc.create_token("acme", ["org:read"])
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    _session(1, "web@2.0", "u1", crashed=True),
                    _session(1, "web@2.0", "u2"),
                    _session(1, "web@2.0", "u3"),
                    _session(1, "web@1.0", "u4"),
                    _session(2, "shop@1.0", "s1"),
                ]
            )
        ]
    )
    return app, token


async def _entities(app, token, representations):
    r = await app.client.post(
        "/graphql/v1",
        json={"query": ENTITIES, "variables": {"representations": representations}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_release_and_project_references_resolve(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "projectId": "1", "version": "web@2.0"},
            {"__typename": "Project", "id": "1"},
            {"__typename": "Release", "projectId": 1, "version": "web@1.0"},
        ],
    )
    assert "errors" not in body, body
    release, project, older = body["data"]["_entities"]
    assert release == {
        "__typename": "Release",
        "projectId": "1",
        "version": "web@2.0",
        "health": {"totalSessions": 3, "crashFreeSessions": 100 * 2 / 3, "sessionsCrashed": 1},
        "adoption": {"adoption": 75.0, "sessionsAdoption": 75.0},
        "project": {"slug": "web"},
    }
    assert project == {"__typename": "Project", "id": "1", "slug": "web", "organization": {"slug": "acme"}}
    assert older["projectId"] == "1"
    assert older["health"]["totalSessions"] == 1
    assert older["adoption"]["adoption"] == 25.0


async def test_missing_and_foreign_entities_are_null(make_app, sqlite_url):
    app, token = await _setup(make_app, sqlite_url)
    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "projectId": "1", "version": "web@9.9"},  # never seen
            {"__typename": "Release", "projectId": "2", "version": "shop@1.0"},  # globex's
            {"__typename": "Release", "projectId": "3", "version": "web@2.0"},  # no project
            {"__typename": "Project", "id": "2"},  # globex's
            {"__typename": "Project", "id": "99"},
            {"__typename": "Release", "projectId": "1", "version": "web@2.0"},
        ],
    )
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert found[:5] == [None] * 5
    assert found[5]["health"]["totalSessions"] == 3
    assert "shop" not in str(body)


async def test_bad_representations_are_user_errors(make_app, sqlite_url):
    app, token = await _setup(make_app, sqlite_url)
    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "project_id": "1", "version": "web@2.0"},
            {"__typename": "Release", "projectId": "x", "version": "web@2.0"},
            {"__typename": "Project", "id": None},
        ],
    )
    assert body["data"]["_entities"] == [None, None, None]
    errors = sorted(body["errors"], key=lambda e: e["path"])
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"] * 3
    assert [e["path"] for e in errors] == [["_entities", i] for i in range(3)]
    assert "projectId" in errors[0]["message"]
    assert "Invalid project id" in errors[1]["message"]


async def test_entities_are_batched(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    versions = ["web@2.0", "web@1.0"]
    counts = {}
    # The first request also reads the token and the projects it names, which the
    # process then keeps (storage/read_cache.py): compare requests in the steady state.
    await _entities(app, token, [{"__typename": "Project", "id": "1"}])
    for n in (1, 50):
        reps = [{"__typename": "Release", "projectId": "1", "version": versions[i % 2]} for i in range(n)]
        reps += [{"__typename": "Project", "id": "1"} for _ in range(n)]
        counter = StatementCounter(app.services.engine)
        try:
            body = await _entities(app, token, reps)
        finally:
            counter.close()
        assert "errors" not in body, body
        assert len(body["data"]["_entities"]) == 2 * n
        assert all(e is not None for e in body["data"]["_entities"])
        counts[n] = counter.count
    assert counts[1] == counts[50], counts


async def test_many_references_are_chunked_and_bounded(make_app, sqlite_url, monkeypatch):
    # Lookups go in bounded chunks (driver parameter limits); a smaller chunk makes the
    # largest allowed call (1,000 references, the variables' list limit) take three.
    monkeypatch.setattr(gql.federation.loaders, "RELEASE_SEEN_BATCH", 400)
    app, token = await _setup(make_app, sqlite_url)
    reps = [{"__typename": "Release", "projectId": "1", "version": f"web@0.{i}"} for i in range(1000)]
    reps[734] = {"__typename": "Release", "projectId": "1", "version": "web@2.0"}
    query = "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Release { version } } }"
    counter = StatementCounter(app.services.engine)
    try:
        r = await app.client.post(
            "/graphql/v1",
            json={"query": query, "variables": {"r": reps}},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        counter.close()
    body = r.json()
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert len(found) == 1000
    assert found[734] == {"version": "web@2.0"}
    assert sum(e is not None for e in found) == 1
    assert counter.count <= 6  # token + project + three chunks of release lookups
    r = await app.client.post(
        "/graphql/v1",
        json={"query": query, "variables": {"r": [*reps, reps[0]]}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
