"""Started sessions per project: get_project_sessions_count (release-health.md 5.12) and
get_num_sessions_per_project (5.13)."""

from __future__ import annotations

import pytest

from resolvers.errors import InvalidQuery
from resolvers.project_sessions import project_sessions_count, sessions_per_project
from tests.backend_support import API, SHOP, WEB, backend, memory_backend, memory_store, session, ts

NOW = ts("2021-01-14T17:40:00Z")


# -- 5.13 get_num_sessions_per_project ------------------------------------------------------


async def test_sessions_per_project_example():
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T14:40:00Z")),  # before 15:00: excluded
        session(WEB, "r", ts("2021-01-14T15:05:00Z")),
        session(WEB, "s", ts("2021-01-14T17:55:00Z")),  # after now, inside bucket 17:00
        session(API, "r", ts("2021-01-14T17:10:00Z")),
        session(SHOP, "r", ts("2021-01-14T17:10:00Z")),  # not asked
    )
    # [now − 2 h, now) hourly = [15:40, 17:40) widened to [15:00, 18:00).
    found = await sessions_per_project(b.store, b.acme, [WEB, API], start=NOW - 7200, end=NOW)
    assert found == [(WEB, 2), (API, 1)]
    # [17:20, 17:40) still counts [17:00, 18:00).
    found = await sessions_per_project(b.store, b.acme, [WEB, API], start=ts("2021-01-14T17:20:00Z"), end=NOW)
    assert found == [(WEB, 1), (API, 1)]
    # Minute rollup: [17:20, 17:40) exactly; 17:10 and 17:55 are outside.
    found = await sessions_per_project(
        b.store, b.acme, [WEB, API], start=ts("2021-01-14T17:20:00Z"), end=NOW, rollup=60
    )
    assert found == []
    # No data -> [] (projects without data are left out, never reported with 0).
    assert await sessions_per_project(b.store, b.acme, [WEB], start=NOW - 60, end=NOW - 30, rollup=10) == []


async def test_sessions_per_project_environment_ids():
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T16:00:00Z"), env="production"),
        session(WEB, "r", ts("2021-01-14T16:00:00Z"), env="production"),
        session(WEB, "r", ts("2021-01-14T16:00:00Z"), env="staging"),
        session(API, "r", ts("2021-01-14T16:00:00Z"), env=""),
        session(API, "r", ts("2021-01-14T16:00:00Z"), env=None),
    )
    envs = await b.store.environments(b.acme)
    assert set(envs) == {"production", "staging", ""}  # no record for the null environment
    args = dict(start=NOW - 7200, end=NOW)
    assert await sessions_per_project(b.store, b.acme, [WEB, API], **args) == [(WEB, 3), (API, 2)]
    assert await sessions_per_project(b.store, b.acme, [WEB, API], environment_ids=[], **args) == [
        (WEB, 3),
        (API, 2),
    ]  # empty: no filter
    assert await sessions_per_project(
        b.store, b.acme, [WEB, API], environment_ids=[envs["production"], envs["staging"]], **args
    ) == [(WEB, 3)]
    assert await sessions_per_project(
        b.store, b.acme, [WEB, API], environment_ids=[envs["staging"]], **args
    ) == [(WEB, 1)]
    # Empty names are excluded from the IN filter, unknown ids reference nothing.
    assert await sessions_per_project(b.store, b.acme, [WEB, API], environment_ids=[envs[""]], **args) == []
    assert await sessions_per_project(b.store, b.acme, [WEB, API], environment_ids=[987654], **args) == []


async def test_sessions_per_project_graphql(make_app, database_url):
    b = await backend(make_app, database_url)
    await b.write(
        session(WEB, "r", ts("2021-01-14T15:05:00Z"), env="production"),
        session(WEB, "r", ts("2021-01-14T17:55:00Z"), env="staging"),
        session(API, "r", ts("2021-01-14T17:10:00Z"), env="production"),
        session(SHOP, "r", ts("2021-01-14T17:10:00Z")),
    )
    envs = await b.data('{ organization(slug: "acme") { environments { id name } } }')
    ids = {e["name"]: e["id"] for e in envs["organization"]["environments"]}
    assert set(ids) == {"production", "staging"}
    q = """query($envs: [String!], $ids: [ID!], $rollup: Int) { sessionsPerProject(
        projectIds: ["1", "2", "3"], start: "2021-01-14T15:40:00Z", end: "2021-01-14T17:40:00Z",
        environments: $envs, environmentIds: $ids, rollup: $rollup) { projectId sessions } }"""
    # Project 3 belongs to another organization: absent.
    assert (await b.data(q))["sessionsPerProject"] == [
        {"projectId": "1", "sessions": 2},
        {"projectId": "2", "sessions": 1},
    ]
    assert (await b.data(q, envs=["staging"]))["sessionsPerProject"] == [{"projectId": "1", "sessions": 1}]
    assert (await b.data(q, ids=[ids["production"]]))["sessionsPerProject"] == [
        {"projectId": "1", "sessions": 1},
        {"projectId": "2", "sessions": 1},
    ]
    body = await b.gql(q, envs=["staging"], ids=[ids["staging"]])
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await b.gql(q, rollup=7)
    assert body["errors"][0]["message"] == (
        "The interval has to be a multiple of the minimum interval of ten seconds."
    )


# -- 5.12 get_project_sessions_count ---------------------------------------------------------


async def test_project_sessions_count_rollup_and_environment_records():
    b = memory_store()
    await b.write(
        session(WEB, "r", ts("2021-01-14T17:19:59Z"), env="production"),  # minute 17:19
        session(WEB, "r", ts("2021-01-14T17:20:10Z"), env="production"),  # minute 17:20
        session(WEB, "q", ts("2021-01-14T17:39:59Z"), env="staging"),
        session(WEB, "r", ts("2021-01-14T17:40:00Z"), env="production"),  # minute 17:40
        session(WEB, "r", ts("2021-01-14T17:30:00Z"), env=None),
        session(WEB, "r", ts("2021-01-14T17:31:00Z"), env=""),
    )
    envs = await b.store.environments(b.acme)
    start, end = ts("2021-01-14T17:20:30Z"), ts("2021-01-14T17:40:00Z")

    async def count(rollup, env_id=None):
        return await project_sessions_count(
            b.store, b.acme, WEB, rollup=rollup, start=start, end=end, environment_id=env_id
        )

    # rollup 60 counts whole minutes [17:20, 17:40): 17:20:10, 17:39:59, 17:30, 17:31.
    assert await count(60) == 4
    # rollup 3600: [17:00, 18:00) -> all six.
    assert await count(3600) == 6
    assert await count(60, envs["production"]) == 1
    assert await count(60, envs["staging"]) == 1
    # The record named "" stands for "no environment": null and "" sessions.
    assert await count(60, envs[""]) == 2
    assert await count(60, 987654) == 0  # unknown id: matches nothing
    with pytest.raises(InvalidQuery):
        await count(3610)
    # Minute buckets older than the minute retention are not read (section 4.4): hourly
    # buckets stand in, each attributed by its start, so [17:20, 17:40) holds none of them
    # and [17:00, 17:40) holds the whole 17:00 hour.
    later = dict(now=ts("2021-03-01T00:00:00Z"), retention={60: 30 * 86400, 3600: 0, 86400: 0})
    assert await project_sessions_count(b.store, b.acme, WEB, rollup=60, start=start, end=end, **later) == 0
    assert (
        await project_sessions_count(
            b.store, b.acme, WEB, rollup=60, start=start - 20 * 60 - 30, end=end, **later
        )
        == 6
    )


async def test_project_sessions_count_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        session(WEB, "r", ts("2021-01-14T17:20:10Z"), env="production"),
        session(WEB, "r", ts("2021-01-14T17:30:00Z"), env=None),
        session(WEB, "r", ts("2021-01-14T17:50:00Z"), env="production"),
    )
    envs = await b.store.environments(b.acme)
    q = """query($env: String, $envId: ID, $rollup: Int!) { project(id: "1") { sessionsCount(
        start: "2021-01-14T17:20:30Z", end: "2021-01-14T17:40:00Z", environment: $env,
        environmentId: $envId, rollup: $rollup) } }"""

    async def count(**kw):
        return (await b.data(q, **kw))["project"]["sessionsCount"]

    assert await count(rollup=60) == 2
    assert await count(rollup=3600) == 3
    assert await count(rollup=60, env="production") == 1
    assert await count(rollup=3600, envId=str(envs["production"])) == 2
    assert await count(rollup=60, env="") == 1  # no environment
    assert await count(rollup=60, envId="987654") == 0
    body = await b.gql(q, rollup=60, env="production", envId=str(envs["production"]))
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
