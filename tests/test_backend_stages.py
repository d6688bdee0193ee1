"""Adoption stages derived from stored history (release-health.md 6.2), read from the store.

θ = 10 % and W = 6 h unless a test says otherwise. H = 2021-01-10T00:00Z. The window of an
instant t holds the hourly buckets starting in [t − 6 h, t).
"""

from __future__ import annotations

from resolvers.adoption_stage import AdoptionStage
from resolvers.options import QueryOptions
from resolvers.stages import release_adoption_stages
from tests.backend_support import API, WEB, memory_backend, memory_store, session, sid, ts

H = ts("2021-01-10T00:00:00Z")
HOUR = 3600


def _many(project, release, started, n, env="production", **kw):
    return [session(project, release, started, env=env, **kw) for _ in range(n)]


async def test_adopted_replaced_and_low_adoption():
    b = memory_store()
    await b.write(
        *_many(WEB, "A", H + 1800, 10),  # bucket H
        *_many(WEB, "B", H + 2 * HOUR, 10),
        *_many(WEB, "B", H + 7 * HOUR, 10),
        session(WEB, "C", H + 7.5 * HOUR),  # bucket H + 7 h
        *_many(API, "A", H, 1),  # another project: its own totals
    )
    now = H + 8.25 * HOUR
    keys = [
        (WEB, "A", "production"),
        (WEB, "B", "production"),
        (WEB, "C", "production"),
        (WEB, "never", "production"),
        (API, "A", "production"),
    ]
    stages = await release_adoption_stages(b.store, keys, now=now)
    # A: alone at H + 1 h ([H − 5 h, H + 1 h) holds bucket H: 10 of 10) -> first adopted;
    # still adopted at H + 6 h (A 10, B 10 of 20); at H + 7 h the window [H + 1 h, H + 7 h)
    # holds only B -> below θ: replaced, unadopted at H + 7 h.
    assert stages[(WEB, "A", "production")] == AdoptionStage("replaced", H + HOUR, H + 7 * HOUR)
    # B: first in a window at H + 3 h (bucket H + 2 h < H + 3 h), 10 of 20; at now
    # ([H + 2.25 h, H + 8.25 h) holds B's H + 7 h bucket 10 and C 1) 10/11 -> adopted.
    assert stages[(WEB, "B", "production")] == AdoptionStage("adopted", H + 3 * HOUR)
    # C: 1 of 21 at H + 8 h, 1 of 11 = 9.1 % at now: never adopted.
    assert stages[(WEB, "C", "production")] == AdoptionStage("low_adoption")
    # A release without sessions in the environment is low_adoption too.
    assert stages[(WEB, "never", "production")] == AdoptionStage("low_adoption")
    # In API, A is alone in its window: adopted since H + 1 h... until H + 6 h: at H + 7 h
    # the window [H + 1 h, H + 7 h) is empty, so no longer adopted -> replaced.
    assert stages[(API, "A", "production")] == AdoptionStage("replaced", H + HOUR, H + 7 * HOUR)


async def test_adopted_now_after_a_dip_keeps_first_adoption():
    b = memory_store()
    await b.write(
        session(WEB, "E", H, env="staging"),
        session(WEB, "F", H, env="staging"),
        *_many(WEB, "F", H + 3 * HOUR, 20, env="staging"),
        *_many(WEB, "E", H + 12 * HOUR, 5, env="staging"),
    )
    # H + 1 h: E 1 of 2 -> adopted; H + 4 h: E 1 of 22 = 4.5 % -> not adopted;
    # now H + 13 h: [H + 7 h, H + 13 h) holds E 5 only -> adopted again; adopted_at stays H + 1 h.
    stages = await release_adoption_stages(b.store, [(WEB, "E", "staging")], now=H + 13 * HOUR)
    assert stages[(WEB, "E", "staging")] == AdoptionStage("adopted", H + HOUR)
    # The same release at H + 5 h (window [H − 1 h, H + 5 h): 1 of 22): replaced, unadopted at
    # the first instant after its last adopted instant H + 3 h.
    stages = await release_adoption_stages(b.store, [(WEB, "E", "staging")], now=H + 5 * HOUR)
    assert stages[(WEB, "E", "staging")] == AdoptionStage("replaced", H + HOUR, H + 4 * HOUR)


async def test_threshold_counts_started_sessions_only():
    b = memory_store()
    await b.write(
        # 6.1's first example: A 1 healthy session, B 9 that crashed in their initial update.
        # Started only: A 1 of 10 = exactly 10 % -> adopted (upstream: 1 < 1.9, not adopted).
        session(WEB, "A", H, env="one"),
        *[session(WEB, "B", H, env="one", status="crashed", sid=sid(i)) for i in range(9)],
        # 6.1's second example: A 1 crashed initial update, B 14 healthy. 1 of 15 = 6.7 %.
        session(WEB, "A", H, env="two", status="crashed", sid=sid(100)),
        *_many(WEB, "B", H, 14, env="two"),
    )
    keys = [(WEB, "A", "one"), (WEB, "A", "two")]
    stages = await release_adoption_stages(b.store, keys, now=H + HOUR)
    assert stages[(WEB, "A", "one")] == AdoptionStage("adopted", H + HOUR)
    assert stages[(WEB, "A", "two")] == AdoptionStage("low_adoption")
    # Threshold and window are settings: at θ = 0.2, 10 % is not enough.
    strict = await release_adoption_stages(
        b.store, keys, now=H + HOUR, options=QueryOptions(adoption_threshold=0.2)
    )
    assert strict[(WEB, "A", "one")].stage == "low_adoption"
    # With W = 1 h, A's window at H + 2 h is [H + 1 h, H + 2 h): empty -> replaced.
    short = await release_adoption_stages(
        b.store, keys, now=H + 2 * HOUR, options=QueryOptions(adoption_window=3600)
    )
    assert short[(WEB, "A", "one")] == AdoptionStage("replaced", H + HOUR, H + 2 * HOUR)


async def test_no_stage_without_environment_or_valid_version():
    b = memory_store()
    await b.write(session(WEB, "latest", H), session(WEB, "ok", H, env=None), session(WEB, "ok", H, env=""))
    keys = [(WEB, "latest", "production"), (WEB, "ok", ""), (WEB, "a/b", "production")]
    assert await release_adoption_stages(b.store, keys, now=H + HOUR) == {}


async def test_adoption_stage_graphql(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path)
    await b.write(
        *_many(WEB, "A", H + 1800, 10), *_many(WEB, "B", H + 2 * HOUR, 10), *_many(WEB, "B", H + 7 * HOUR, 10)
    )
    q = """query($v: String!, $env: String!) { release(projectId: "1", version: $v) {
        adoptionStage(environment: $env, now: "2021-01-10T08:15:00Z") { stage adoptedAt unadoptedAt } } }"""
    assert (await b.data(q, v="A", env="production"))["release"]["adoptionStage"] == {
        "stage": "REPLACED",
        "adoptedAt": "2021-01-10T01:00:00Z",
        "unadoptedAt": "2021-01-10T07:00:00Z",
    }
    assert (await b.data(q, v="B", env="production"))["release"]["adoptionStage"] == {
        "stage": "ADOPTED",
        "adoptedAt": "2021-01-10T03:00:00Z",
        "unadoptedAt": None,
    }
    assert (await b.data(q, v="B", env="staging"))["release"]["adoptionStage"] == {
        "stage": "LOW_ADOPTION",
        "adoptedAt": None,
        "unadoptedAt": None,
    }
    assert (await b.data(q, v="B", env=""))["release"]["adoptionStage"] is None
    # Releases listed by `releases(now: …)` answer at that now (the server clock says
    # 2021-01-15, when both A and B would be replaced).
    listed = """{ releases(projectIds: ["1"], now: "2021-01-10T08:15:00Z") { nodes { version
        adoptionStage(environment: "production") { stage } } } }"""
    nodes = (await b.data(listed))["releases"]["nodes"]
    assert {n["version"]: n["adoptionStage"]["stage"] for n in nodes} == {"A": "REPLACED", "B": "ADOPTED"}


async def test_adoption_stage_graphql_uses_the_threshold_setting(make_app, tmp_path):
    b = await memory_backend(make_app, tmp_path, adoption_threshold=0.6)
    await b.write(*_many(WEB, "A", H, 5), *_many(WEB, "B", H, 5))
    q = """{ release(projectId: "1", version: "A") {
        adoptionStage(environment: "production", now: "2021-01-10T01:00:00Z") { stage } } }"""
    # 5 of 10 = 50 % < 60 %.
    assert (await b.data(q))["release"]["adoptionStage"] == {"stage": "LOW_ADOPTION"}
