"""The real client: Apollo Client 4 in Node (`tests/js/apollo_v2.mjs`) against API v2 on a
live relhealth, with the README's InMemoryCache (relayStylePagination on the connections,
nothing else) and the releases-page operation of `docs/clients/operations/`.

- Pagination: the page of 2 and two `fetchMore`s leave the whole list, in order, in the
  cache-merged result, with the numbers plain HTTP answers for the same query.
- Scopes: the same releases watched in three scopes whose numbers differ by construction
  (all environments, production only, a day earlier) each show their own scope's
  numbers through one cache, watched and read cache-first, because every ReleaseHealth
  id includes its scope; `Release` entries carry no numbers (the v1 failure mode)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.settings import Settings
from storage.types import USER_CRASHED, USER_SEEN, SessionIncrement, WriteBatch
from tests.npm_cache import APOLLO_CLIENT, npm_dir

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "js" / "apollo_v2.mjs"
OPERATION = ROOT / "docs" / "clients" / "operations" / "releases-page.graphql"
HOUR, DAY = 3600, 86400
RELEASES = 5
#: Where each field of the releases page sits in an answer.
EDGES = ("organization", "health", "releases", "edges")
END_CURSOR = ["organization", "health", "releases", "pageInfo", "endCursor"]


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _scope(at: float, environments: list[str] | None = None) -> dict[str, Any]:
    return {"window": {"period": "LAST_24_HOURS"}, "environments": environments, "at": _iso(at)}


def _session(release: str, env: str, started: float, user: str, crashed: bool = False) -> SessionIncrement:
    tags = USER_SEEN | (USER_CRASHED if crashed else 0)
    return SessionIncrement(
        1, release, env, started, started_count=1, crashed=int(crashed), user=user, user_tags=tags
    )


def _increments(at: float) -> list[SessionIncrement]:
    """Release web@1.0.r: in the 24 h before `at`, 10(r+1) production sessions of r+2 users
    and r+3 staging sessions, one crashed; in the day before that, 5+r production sessions,
    two crashed. So every release's numbers differ between all environments, production
    only, and a day earlier, and most sessions order the releases web@1.0.4 first."""
    out: list[SessionIncrement] = []
    for r in range(RELEASES):
        v = f"web@1.0.{r}"
        out += [
            _session(v, "production", at - (i % 23) * HOUR - 1800, f"p{r}-{i % (r + 2)}")
            for i in range(10 * (r + 1))
        ]
        out += [
            _session(v, "staging", at - i * HOUR - 1800, f"s{r}-{i}", crashed=i == 0) for i in range(r + 3)
        ]
        out += [
            _session(v, "production", at - DAY - i * HOUR - 1800, f"y{r}-{i % 3}", crashed=i < 2)
            for i in range(5 + r)
        ]
    return out


@pytest.fixture
def relhealth(live_server, sqlite_url):  # type: ignore[no-untyped-def]
    server = live_server(Settings(database_url=sqlite_url))
    server.run(lambda: server.services.accounts.create_project("acme", "web", 1))
    token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
    at = float(int(time.time()) // HOUR * HOUR)
    batch = WriteBatch(_increments(at))
    server.run(lambda: server.services.store.apply([batch]))
    return server, token, at


def _apollo(server: Any, token: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    env = {
        **os.environ,
        "RELHEALTH_NPM_DIR": str(npm_dir(APOLLO_CLIENT, "the Apollo Client API v2 test")),
        "RELHEALTH_URL": f"{server.url}/graphql",
        "RELHEALTH_TOKEN": token,
        "STEPS": json.dumps(steps),
    }
    proc = subprocess.run(["node", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    print(line)  # the report's "printed JSON" (run with -s)
    results: list[dict[str, Any]] = json.loads(line)
    return results


def _http(server: Any, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The same operation over plain HTTP: what the server computes for that scope."""
    r = httpx.post(
        f"{server.url}/graphql",
        json={"query": OPERATION.read_text(), "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=30,
    )
    body = r.json()
    assert r.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _plain(value: Any) -> Any:
    """An Apollo result without the `__typename`s Apollo adds to every selection."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _edges(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: Any = data
    for key in EDGES:
        found = found[key]
    return list(found)


def _numbers(data: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Each release's numbers in a page, by version."""
    return {
        e["node"]["release"]["version"]: (
            e["node"]["sessions"],
            e["node"]["users"],
            e["node"]["crashFreeSessionRate"],
            e["node"]["crashFreeUserRate"],
            e["node"]["adoption"] and e["node"]["adoption"]["sessionRate"],
        )
        for e in _edges(data)
    }


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned-at", "live"])
def test_fetch_more_merges_the_pages_in_order(relhealth, pinned):
    """With `at` the pages are one snapshot; without it the scope is live ("the last 24
    hours") and keeps its id from request to request, so the pages merge all the same."""
    server, token, at = relhealth
    scope = _scope(at)
    if not pinned:
        del scope["at"]
    page = {"slug": "acme", "scope": scope, "first": 2}
    ascending = {**page, "first": 25, "order": {"field": "SESSIONS", "direction": "ASC"}}
    steps = [
        {"do": "watch", "as": "page", "file": str(OPERATION), "variables": page},
        {"do": "fetchMore", "as": "page", "cursor": END_CURSOR},
        {"do": "fetchMore", "as": "page", "cursor": END_CURSOR},
        # The same scope (so the same OrganizationHealth) in another order: `orderBy` is a
        # key argument of the connection, so the two lists stay apart.
        {"do": "watch", "as": "asc", "file": str(OPERATION), "variables": ascending},
        {"do": "read", "as": "page"},
    ]
    first, more, last, asc, read = _apollo(server, token, steps)

    whole = _http(server, token, {**page, "first": 25})
    assert [e["node"]["release"]["version"] for e in _edges(whole)] == [
        f"web@1.0.{r}" for r in reversed(range(RELEASES))
    ]
    assert len(_edges(first["data"])) == 2 and first["requests"] == 1
    assert more["after"] == _edges(whole)[1]["cursor"] and len(_edges(more["data"])) == 4
    assert len(_edges(last["page"])) == 1
    # relayStylePagination kept every page: the merged list is the whole list, in order,
    # cursors and numbers as the server answers them in one request.
    merged = _plain(last["data"])["organization"]["health"]["releases"]
    expected = whole["organization"]["health"]["releases"]
    assert merged["edges"] == expected["edges"]
    assert merged["totalCount"] == expected["totalCount"] == RELEASES
    assert merged["pageInfo"] == {"hasNextPage": False, "endCursor": expected["pageInfo"]["endCursor"]}
    assert _plain(read["data"]) == _plain(read["cached"]) == _plain(last["data"]) and read["requests"] == 0

    assert _plain(asc["data"]) == _http(server, token, ascending)
    assert [e["node"]["release"]["version"] for e in _edges(asc["data"])] == [
        f"web@1.0.{r}" for r in range(RELEASES)
    ]


def test_one_cache_never_shows_one_scopes_numbers_under_another(relhealth):
    server, token, at = relhealth
    scopes = {
        "all": _scope(at),
        "production": _scope(at, ["production"]),
        "yesterday": _scope(at - DAY),
    }
    variables = {name: {"slug": "acme", "scope": s, "first": 25} for name, s in scopes.items()}
    watch = [{"do": "watch", "as": n, "file": str(OPERATION), "variables": v} for n, v in variables.items()]
    # Watched again by a second watcher each (cache-first: no request), then read.
    again = [
        {"do": "watch", "as": f"{n}-again", "file": str(OPERATION), "variables": v}
        for n, v in variables.items()
    ]
    read = [{"do": "read", "as": n} for n in variables]
    results = _apollo(server, token, [*watch, *again, *read, {"do": "extract"}])
    watched, rewatched, reads, (extracted,) = results[:3], results[3:6], results[6:9], results[9:]

    http = {name: _http(server, token, v) for name, v in variables.items()}
    numbers = {name: _numbers(data) for name, data in http.items()}
    # The scopes differ by construction: every release's numbers differ in each pair.
    for version in numbers["all"]:
        row = [numbers[name][version] for name in scopes]
        assert len(set(row)) == len(scopes), (version, row)
    for name, first, second, now in zip(scopes, watched, rewatched, reads, strict=True):
        assert first["requests"] == 1 and second["requests"] == 0 and now["requests"] == 0
        for shown in (first["data"], second["data"], now["data"], now["cached"]):
            assert _plain(shown) == http[name], name

    cache = extracted["cache"]
    health = {k: v for k, v in cache.items() if v.get("__typename") == "ReleaseHealth"}
    releases = {k: v for k, v in cache.items() if v.get("__typename") == "Release"}
    # One Release per version, identity only; one ReleaseHealth per release and scope, each
    # holding its own scope's numbers and pointing at the shared Release.
    assert len(releases) == RELEASES and len(health) == RELEASES * len(scopes)
    for entry in releases.values():
        assert set(entry) == {"__typename", "id", "version"}, entry
    by_key = {
        f"ReleaseHealth:{e['node']['id']}": (name, e["node"])
        for name, data in http.items()
        for e in _edges(data)
    }
    assert set(by_key) == set(health)
    for key, entry in health.items():
        name, node = by_key[key]
        assert entry["release"] == {"__ref": f"Release:{node['release']['id']}"}
        assert (entry["sessions"], entry["users"]) == numbers[name][node["release"]["version"]][:2]


def test_the_readme_documents_the_cache_this_test_uses():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Apollo Client\n") :]
    block = re.search(r"```js\n(.*?)```", section, re.S)
    assert block is not None
    config = block.group(1)[block.group(1).index("const cache = new InMemoryCache(") :]
    assert config in SCRIPT.read_text()
