"""Federation entities: `_entities` on /graphql (API v2) resolves `Release` and `Project`
references by every key the schema declares (`Project @key(fields: "id") @key(fields:
"projectId")`, `Release @key(fields: "id") @key(fields: "projectId version")`), the way a
gateway sends them, batched and organization-isolated; one case keeps v1's keys working
on /graphql/v1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import gql.federation.loaders
from gql.core.ids import global_id
from server.clock import FixedClock
from server.settings import Settings
from storage.engine import StatementCounter
from storage.types import USER_CRASHED, USER_ERRORED, USER_SEEN, SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
SCOPE = {"window": {"period": "LAST_24_HOURS"}, "at": "2025-06-02T10:00:30Z"}

# One selection for `_entities` and for the same objects asked directly, so that the two
# answers can be compared whole.
FRAGMENTS = """
fragment R on Release { id projectId version project { id projectId slug }
  health(scope: $scope) { sessions users crashFreeSessionRate crashFreeUserRate
                          adoption { userRate sessionRate } } }
fragment P on Project { id projectId slug organization { slug } health(scope: $scope) { sessions users } }
"""
ENTITIES = (
    """query ($representations: [_Any!]!, $scope: HealthScope!) {
  _entities(representations: $representations) { __typename ...R ...P }
}"""
    + FRAGMENTS
)
DIRECT = (
    """query ($scope: HealthScope!) {
  project(id: "1") { __typename ...P releases { nodes { id version } } }
  new: release(project: "1", version: "web@2.0") { __typename ...R }
  old: release(project: "1", version: "web@1.0") { __typename ...R }
}"""
    + FRAGMENTS
)

V1_ENTITIES = """query ($representations: [_Any!]!) {
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


async def _post(app, token, query: str, variables: dict[str, Any], path: str = "/graphql") -> dict:
    r = await app.client.post(
        path,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _entities(app, token, representations, path: str = "/graphql"):
    if path == "/graphql":
        return await _post(app, token, ENTITIES, {"representations": representations, "scope": SCOPE})
    return await _post(app, token, V1_ENTITIES, {"representations": representations}, path)


async def test_references_by_every_v2_key_resolve(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    direct = await _post(app, token, DIRECT, {"scope": SCOPE})
    assert "errors" not in direct, direct
    project = direct["data"]["project"]
    new, old = direct["data"]["new"], direct["data"]["old"]
    # Global ids as relhealth issues them: a router only passes them back.
    ids = {n["version"]: n["id"] for n in project.pop("releases")["nodes"]}
    assert ids == {"web@2.0": new["id"], "web@1.0": old["id"]}
    assert new["id"] != old["id"] != project["id"] != "1"

    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "id": new["id"]},
            {"__typename": "Release", "projectId": "1", "version": "web@2.0"},
            {"__typename": "Release", "projectId": 1, "version": "web@1.0"},
            {"__typename": "Project", "id": project["id"]},
            {"__typename": "Project", "projectId": "1"},
            {"__typename": "Project", "projectId": 1},
            {"__typename": "Project", "id": "1"},  # v1's key: a numeric id still resolves
        ],
    )
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert found == [new, new, old, project, project, project, project]
    # Worked out from the sessions above: web@2.0 has 3 sessions of 3 users, one crashed;
    # the project has 4 sessions of 4 users.
    assert new == {
        "__typename": "Release",
        "id": new["id"],
        "projectId": "1",
        "version": "web@2.0",
        "project": {"id": project["id"], "projectId": "1", "slug": "web"},
        "health": {
            "sessions": 3,
            "users": 3,
            "crashFreeSessionRate": 100 * 2 / 3,
            "crashFreeUserRate": 100 * 2 / 3,
            "adoption": {"userRate": 75.0, "sessionRate": 75.0},
        },
    }
    assert old["health"] == {
        "sessions": 1,
        "users": 1,
        "crashFreeSessionRate": 100.0,
        "crashFreeUserRate": 100.0,
        "adoption": {"userRate": 25.0, "sessionRate": 25.0},
    }
    assert project == {
        "__typename": "Project",
        "id": project["id"],
        "projectId": "1",
        "slug": "web",
        "organization": {"slug": "acme"},
        "health": {"sessions": 4, "users": 4},
    }


async def test_v1_keys_still_resolve_on_v1(make_app, sqlite_url):
    app, token = await _setup(make_app, sqlite_url)
    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "projectId": "1", "version": "web@2.0"},
            {"__typename": "Project", "id": "1"},
        ],
        "/graphql/v1",
    )
    assert "errors" not in body, body
    assert body["data"]["_entities"] == [
        {
            "__typename": "Release",
            "projectId": "1",
            "version": "web@2.0",
            "health": {"totalSessions": 3, "crashFreeSessions": 100 * 2 / 3, "sessionsCrashed": 1},
            "adoption": {"adoption": 75.0, "sessionsAdoption": 75.0},
            "project": {"slug": "web"},
        },
        {"__typename": "Project", "id": "1", "slug": "web", "organization": {"slug": "acme"}},
    ]


async def test_missing_and_foreign_entities_are_null(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    body = await _entities(
        app,
        token,
        [
            {"__typename": "Release", "projectId": "1", "version": "web@9.9"},  # never seen
            {"__typename": "Release", "id": global_id("Release", 1, "web@9.9")},
            {"__typename": "Release", "projectId": "2", "version": "shop@1.0"},  # globex's
            {"__typename": "Release", "id": global_id("Release", 2, "shop@1.0")},
            {"__typename": "Release", "projectId": "3", "version": "web@2.0"},  # no project
            {"__typename": "Release", "id": global_id("Release", 3, "web@2.0")},
            {"__typename": "Project", "id": global_id("Project", 2)},  # globex's
            {"__typename": "Project", "projectId": "2"},
            {"__typename": "Project", "id": "2"},
            {"__typename": "Project", "id": global_id("Project", 99)},
            {"__typename": "Project", "projectId": 99},
            {"__typename": "Release", "id": global_id("Release", 1, "web@2.0")},
        ],
    )
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert found[:-1] == [None] * 11
    assert found[-1]["health"]["sessions"] == 3
    assert "shop" not in str(body)


BAD = [
    # (representation, a piece of the error's message)
    ({"__typename": "Release", "project_id": "1", "version": "web@2.0"}, "exactly the fields"),
    ({"__typename": "Release", "id": "x", "projectId": "1", "version": "web@2.0"}, "exactly the fields"),
    ({"__typename": "Release", "projectId": "1"}, "exactly the fields"),
    ({"__typename": "Project", "id": "1", "projectId": "1"}, "exactly the fields"),
    ({"__typename": "Project", "id": None}, "are strings"),
    ({"__typename": "Project", "projectId": True}, "are strings"),
    ({"__typename": "Organization", "id": "1"}, "__typename Project or Release"),
    ({"id": "1"}, "__typename Project or Release"),
    ("Project:1", "must be an object"),
    ({"__typename": "Release", "projectId": "x", "version": "web@2.0"}, "Invalid id"),
    ({"__typename": "Release", "id": "not-an-id"}, "Invalid id"),
    ({"__typename": "Release", "id": global_id("Project", 1)}, "expected the id of a Release"),
    ({"__typename": "Release", "id": global_id("Release", 1)}, "Invalid id"),
    ({"__typename": "Release", "id": global_id("Release", "1", "web@2.0")}, "Invalid id"),
    # Forged ids whose project is not a record id (a JSON true is not project 1).
    ({"__typename": "Release", "id": global_id("Release", True, "web@2.0")}, "Invalid"),
    ({"__typename": "Release", "id": global_id("Release", 10**30, "web@2.0")}, "Invalid"),
    ({"__typename": "Release", "id": global_id("Release", -1, "web@2.0")}, "Invalid"),
    ({"__typename": "Project", "id": global_id("Release", 1, "web@2.0")}, "expected the id of a Project"),
    ({"__typename": "Project", "id": global_id("Project", True)}, "Invalid id"),
    ({"__typename": "Project", "projectId": "-1"}, "Invalid project id"),
    ({"__typename": "Project", "projectId": str(10**30)}, "Invalid project id"),
]


@pytest.mark.parametrize("path", ["/graphql", "/graphql/v1"])
async def test_bad_representations_are_user_errors(make_app, database_url, path):
    app, token = await _setup(make_app, database_url)
    good = {"__typename": "Release", "projectId": "1", "version": "web@2.0"}
    if path == "/graphql":
        bad = BAD
    else:
        bad = [
            ({"__typename": "Release", "project_id": "1", "version": "web@2.0"}, "exactly the fields"),
            ({"__typename": "Release", "projectId": "x", "version": "web@2.0"}, "Invalid project id"),
            ({"__typename": "Project", "id": None}, "are strings"),
        ]
    body = await _entities(app, token, [r for r, _ in bad] + [good], path)
    *nulls, found = body["data"]["_entities"]
    assert nulls == [None] * len(bad)
    assert found["version"] == "web@2.0"  # one bad representation spoils no other
    errors = sorted(body["errors"], key=lambda e: e["path"][1])
    assert [e["path"] for e in errors] == [["_entities", i] for i in range(len(bad))]
    for error, (representation, message) in zip(errors, bad, strict=True):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (representation, error)
        assert message in error["message"], (representation, error)


async def test_entities_are_batched(make_app, database_url):
    app, token = await _setup(make_app, database_url)
    ids = {v: global_id("Release", 1, v) for v in ("web@2.0", "web@1.0")}
    project = global_id("Project", 1)
    query = """query ($r: [_Any!]!) { _entities(representations: $r) {
        ... on Release { id version project { slug } } ... on Project { id slug } } }"""
    counts = {}
    # The first request also reads the token and the projects it names, which the
    # process then keeps (storage/read_cache.py): compare requests in the steady state.
    await _post(app, token, query, {"r": [{"__typename": "Project", "id": project}]})
    for n in (1, 50):
        reps: list[dict[str, Any]] = []
        for i in range(n):
            version = ("web@2.0", "web@1.0")[i % 2]
            reps += [
                {"__typename": "Release", "projectId": "1", "version": version},
                {"__typename": "Release", "id": ids[version]},
                {"__typename": "Project", "id": project},
                {"__typename": "Project", "projectId": "1"},
            ]
        counter = StatementCounter(app.services.engine)
        try:
            body = await _post(app, token, query, {"r": reps})
        finally:
            counter.close()
        assert "errors" not in body, body
        assert len(body["data"]["_entities"]) == 4 * n
        assert all(e is not None for e in body["data"]["_entities"])
        counts[n] = counter.count
    assert counts[1] == counts[50], counts


async def test_many_references_are_chunked_and_bounded(make_app, sqlite_url, monkeypatch):
    # Lookups go in bounded chunks (driver parameter limits); a smaller chunk makes the
    # largest allowed call (1,000 references, the variables' list limit) take three.
    monkeypatch.setattr(gql.federation.loaders, "RELEASE_SEEN_BATCH", 400)
    app, token = await _setup(make_app, sqlite_url)
    reps: list[dict[str, Any]] = [
        {"__typename": "Release", "projectId": "1", "version": f"web@0.{i}"} for i in range(500)
    ]
    reps += [{"__typename": "Release", "id": global_id("Release", 1, f"web@3.{i}")} for i in range(500)]
    reps[734] = {"__typename": "Release", "id": global_id("Release", 1, "web@2.0")}
    query = "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Release { version } } }"
    counter = StatementCounter(app.services.engine)
    try:
        body = await _post(app, token, query, {"r": reps})
    finally:
        counter.close()
    assert "errors" not in body, body
    found = body["data"]["_entities"]
    assert len(found) == 1000
    assert found[734] == {"version": "web@2.0"}
    assert sum(e is not None for e in found) == 1
    assert counter.count <= 6  # token + project + three chunks of release lookups
    body = await _post(app, token, query, {"r": [*reps, reps[0]]})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
