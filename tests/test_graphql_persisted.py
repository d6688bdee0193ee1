"""/graphql/v1's protocol, over HTTP against the app: Apollo's automatic persisted queries
(POST and GET), GET caching headers, 405 for mutations over GET, batching on and off,
and JSON errors (never plain text) for every malformed request."""

from __future__ import annotations

import json
from typing import Any

from gql.persisted import QueryStore, entry_bytes, sha256_hex
from tests.backend_support import Backend, backend

QUERY = '{ organization(slug: "acme") { slug } }'
DIGEST = sha256_hex(QUERY)


def _headers(b: Backend) -> dict[str, str]:
    return {"Authorization": f"Bearer {b.token}"}


def _pq(digest: str, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def _post(b: Backend, body: Any, **headers: str) -> Any:
    return await b.app.client.post("/graphql/v1", json=body, headers={**_headers(b), **headers})


async def _get(b: Backend, **params: Any) -> Any:
    headers = _headers(b)
    headers.update(params.pop("headers", {}))
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return await b.app.client.get("/graphql/v1", params=encoded, headers=headers)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


# -- APQ ------------------------------------------------------------------------------


async def test_apq_miss_register_hit_over_post(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    miss = await _post(b, {"extensions": _pq(DIGEST)})
    assert miss.status_code == 200  # what Apollo's link expects
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert _code(miss.json()) == "PERSISTED_QUERY_NOT_FOUND"

    registered = await _post(b, {"query": QUERY, "extensions": _pq(DIGEST)})
    assert registered.status_code == 200
    assert registered.json()["data"] == {"organization": {"slug": "acme"}}

    hit = await _post(b, {"extensions": _pq(DIGEST)})
    assert hit.status_code == 200
    assert hit.json()["data"] == {"organization": {"slug": "acme"}}


async def test_apq_over_get_and_its_cache_headers(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_get_max_age=45)
    miss = await _get(b, extensions=_pq(DIGEST))
    assert _code(miss.json()) == "PERSISTED_QUERY_NOT_FOUND"
    assert miss.headers["cache-control"] == "no-store"  # errors are never cached
    assert (await _get(b, query=QUERY, extensions=_pq(DIGEST))).json()["data"]["organization"]
    hit = await _get(b, extensions=_pq(DIGEST))
    assert hit.status_code == 200 and hit.json()["data"] == {"organization": {"slug": "acme"}}
    assert hit.headers["cache-control"] == "private, max-age=45"
    assert hit.headers["vary"].startswith("Authorization, Cookie")  # (CORS adds Origin)
    tag = hit.headers["etag"]
    assert tag.startswith('W/"')

    # Revalidation: the same data is a 304 without a body (the budget in `extensions`
    # differs from one answer to the next; the ETag is of the data).
    again = await _get(b, extensions=_pq(DIGEST), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag and again.headers["cache-control"] == "private, max-age=45"
    other = await _get(b, query='{ organization(slug: "nope") { slug } }', headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag
    # POST answers carry no validator.
    assert "etag" not in (await _post(b, {"query": QUERY})).headers


async def test_get_max_age_zero_is_no_cache(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_get_max_age=0)
    r = await _get(b, query=QUERY)
    assert r.headers["cache-control"] == "private, no-cache" and "etag" in r.headers


async def test_hash_mismatch_version_and_malformed_extensions(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    wrong = await _post(b, {"query": QUERY, "extensions": _pq("0" * 64)})
    assert wrong.status_code == 400 and _code(wrong.json()) == "PERSISTED_QUERY_HASH_MISMATCH"
    # Nothing was stored under the wrong hash.
    assert _code((await _post(b, {"extensions": _pq("0" * 64)})).json()) == "PERSISTED_QUERY_NOT_FOUND"
    version = await _post(b, {"query": QUERY, "extensions": _pq(DIGEST, version=2)})
    assert version.status_code == 400 and _code(version.json()) == "PERSISTED_QUERY_VERSION_NOT_SUPPORTED"
    for bad in ({"persistedQuery": "x"}, _pq("ABC"), _pq(DIGEST.upper())):
        r = await _post(b, {"query": QUERY, "extensions": bad})
        assert r.status_code == 400 and _code(r.json()) == "PERSISTED_QUERY_INVALID", bad


async def test_apq_off_answers_not_supported(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_apq=False)
    r = await _post(b, {"extensions": _pq(DIGEST)})
    assert r.status_code == 200 and _code(r.json()) == "PERSISTED_QUERY_NOT_SUPPORTED"
    assert r.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    # Plain queries still run.
    assert (await _post(b, {"query": QUERY})).json()["data"]["organization"] == {"slug": "acme"}


async def test_refused_documents_are_not_registered(make_app, sqlite_url):
    """Registration goes through every document limit: an invalid, too deep, too large
    or too costly document is answered with its error and never stored."""
    b = await backend(make_app, sqlite_url, graphql_max_depth=3, graphql_max_tokens=200, graphql_max_cost=60)
    deep = '{ organization(slug: "acme") { projects { releases { nodes { version } } } } }'
    costly = '{ releases(projectIds: ["1"], first: 100) { nodes { version } } }'
    documents = {
        "{ nope }": "GRAPHQL_VALIDATION_FAILED",
        "{ organization(": "GRAPHQL_PARSE_FAILED",
        "{ " + "__typename " * 300 + "}": "MAX_TOKENS_EXCEEDED",
        deep: "GRAPHQL_VALIDATION_FAILED",
        costly: "MAX_COST_EXCEEDED",
    }
    for query, code in documents.items():
        digest = sha256_hex(query)
        r = (await _post(b, {"query": query, "extensions": _pq(digest)})).json()
        assert r["errors"], query
        assert r["errors"][0].get("extensions", {}).get("code", "GRAPHQL_VALIDATION_FAILED") == code, r
        again = (await _post(b, {"extensions": _pq(digest)})).json()
        assert _code(again) == "PERSISTED_QUERY_NOT_FOUND", query


def test_query_store_is_bounded_in_bytes_lru():
    store = QueryStore(max_bytes=3 * entry_bytes("{ a }"))
    for name in ("a", "b", "c"):
        store.put(name, "{ %s }" % name)
    assert store.get("a") == "{ a }"  # a is now the most recent
    store.put("d", "{ d }")
    assert store.get("b") is None and store.get("a") and store.get("c") and store.get("d")
    assert store.bytes <= store.max_bytes and len(store) == 3
    store.put("huge", "x" * store.max_bytes)  # larger than the whole store: not kept
    assert store.get("huge") is None and len(store) == 3


async def test_apq_store_is_bounded_by_its_setting(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_apq_cache_bytes=2 * entry_bytes(QUERY) + 10)
    queries = [QUERY.replace("acme", f"acme{i}") for i in range(5)]
    for q in queries:
        assert (await _post(b, {"query": q, "extensions": _pq(sha256_hex(q))})).json()["data"]
    found = ["errors" not in (await _post(b, {"extensions": _pq(sha256_hex(q))})).json() for q in queries]
    assert found == [False, False, False, True, True]


# -- methods and malformed requests -------------------------------------------------------


async def test_mutations_over_get_are_405(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    r = await _get(b, query="mutation { x }")
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert _code(r.json()) == "METHOD_NOT_ALLOWED"
    # Over POST it is an ordinary GraphQL error (the schema has no mutations).
    r = await _post(b, {"query": "mutation { x }"})
    assert r.status_code == 200 and r.json()["errors"]


async def test_protocol_errors_are_graphql_json_never_plain_text(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_batching=False)
    h = _headers(b)
    c = b.app.client
    cases = [
        (
            await c.post(
                "/graphql/v1", content=b"{not json", headers={**h, "Content-Type": "application/json"}
            ),
            400,
        ),
        (await c.post("/graphql/v1", content=b"query=x", headers={**h, "Content-Type": "text/plain"}), 415),
        (await c.post("/graphql/v1", json={}, headers=h), 400),
        (await c.post("/graphql/v1", json={"query": 1}, headers=h), 400),
        (await c.post("/graphql/v1", json={"query": QUERY, "variables": [1]}, headers=h), 400),
        (await c.post("/graphql/v1", json="a string", headers=h), 400),
        (await c.get("/graphql/v1", headers=h), 400),
        (await c.get("/graphql/v1", params={"query": QUERY, "variables": "{bad"}, headers=h), 400),
        (await c.put("/graphql/v1", json={"query": QUERY}, headers=h), 405),
        (await c.delete("/graphql/v1", headers=h), 405),
        (await c.post("/graphql/v1", json=[{"query": QUERY}], headers=h), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.method, response.text)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body = response.json()
        assert body["errors"][0]["message"] and body["errors"][0]["extensions"]["code"], body
    assert _code(cases[10][0].json()) == "BATCHING_NOT_ENABLED"
    assert cases[8][0].headers["allow"] == "GET, POST"


# -- batching -------------------------------------------------------------------------------


async def test_batches_answer_an_array_in_order(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    r = await _post(
        b,
        [
            {"query": QUERY},
            {"query": "query Q($s: String!) { organization(slug: $s) { slug } }", "variables": {"s": "x"}},
            {"query": "{ nope }"},
            {"extensions": _pq(DIGEST)},
            {"query": QUERY, "extensions": _pq("1" * 64)},
            {"variables": {"s": "x"}},
        ],
    )
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and len(body) == 6
    assert body[0]["data"] == {"organization": {"slug": "acme"}}
    assert body[1]["data"] == {"organization": None}
    assert body[2]["errors"][0]["message"].startswith("Cannot query field 'nope'")
    assert _code(body[3]) == "PERSISTED_QUERY_NOT_FOUND"
    assert _code(body[4]) == "PERSISTED_QUERY_HASH_MISMATCH"
    assert _code(body[5]) == "BAD_REQUEST"  # no query
    # An item that is not an operation at all makes the whole batch malformed.
    r = await _post(b, [{"query": QUERY}, "not an object"])
    assert r.status_code == 400 and _code(r.json()) == "BAD_REQUEST"
    assert "Operation 1 of the batch" in r.json()["errors"][0]["message"]


async def test_batch_length_is_capped(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_batch_max_operations=3)
    assert len((await _post(b, [{"query": QUERY}] * 3)).json()) == 3
    for batch in ([{"query": QUERY}] * 4, []):
        r = await _post(b, batch)
        assert r.status_code == 400 and _code(r.json()) == "BATCH_TOO_LARGE"


async def test_each_operation_of_a_batch_is_charged_to_the_budget(make_app, sqlite_url):
    q = '{ releases(projectIds: ["1"], first: 10) { nodes { version } } rateLimit { cost remaining } }'
    b = await backend(make_app, sqlite_url, graphql_cost_budget=100, graphql_cost_window=3600)
    single = (await _post(b, {"query": q})).json()
    cost = single["data"]["rateLimit"]["cost"]
    assert cost > 1
    n = (100 - cost) // cost  # what the budget still pays for
    body = (await _post(b, [{"query": q}] * (n + 1))).json()
    codes = [item["errors"][0]["extensions"]["code"] if "errors" in item else None for item in body]
    assert codes.count(None) == n and codes.count("RATE_LIMITED") == 1, codes
    remaining = sorted(item["data"]["rateLimit"]["remaining"] for item in body if "errors" not in item)
    assert remaining[0] == 100 - (n + 1) * cost


async def test_batching_counts_apq_registration_per_operation(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url)
    body = (await _post(b, [{"query": QUERY, "extensions": _pq(DIGEST)}, {"extensions": _pq(DIGEST)}])).json()
    assert body[0]["data"] == {"organization": {"slug": "acme"}}
    # The second ran concurrently with the registration: found or not found, never wrong.
    assert body[1].get("data") == {"organization": {"slug": "acme"}} or _code(body[1]) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    assert (await _post(b, {"extensions": _pq(DIGEST)})).json()["data"] == {"organization": {"slug": "acme"}}
