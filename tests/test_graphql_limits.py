"""Limits of /graphql/v1: body size, document tokens, the parse/validation cache bounded in
bytes that keeps only valid documents, and the execution timeout."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc

from graphql import parse

from gql.core.cache import DocumentCache, document_bytes
from gql.core.cost import CostLimits
from gql.schema import GraphQLLimits
from gql.v1.schema import build_v1_schema as build_schema
from resolvers import health
from tests.backend_support import backend


async def test_body_over_the_limit_is_413_with_a_graphql_error(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_max_body_size=4096)
    headers = {"Authorization": f"Bearer {b.token}"}
    big = '{ organization(slug: "%s") { slug } }' % ("x" * 5000)
    r = await b.app.client.post("/graphql/v1", json={"query": big}, headers=headers)
    assert r.status_code == 413
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "4096 bytes" in error["message"]

    # Without Content-Length (chunked), the body is cut off as it streams in.
    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    r = await b.app.client.post(
        "/graphql/v1", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    # Just under the limit still works.
    ok = await b.app.client.post(
        "/graphql/v1", json={"query": '{ organization(slug: "%s") { slug } }' % ("x" * 3000)}, headers=headers
    )
    assert ok.status_code == 200 and ok.json()["data"] == {"organization": None}


async def test_documents_over_the_token_limit_are_refused(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, graphql_max_tokens=200)
    body = await b.gql("{ " + "__typename " * 300 + "}")
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_TOKENS_EXCEEDED"
    assert "more than 200 tokens" in error["message"]
    assert (await b.gql("{ " + "__typename " * 100 + "}"))["data"] == {"__typename": "Query"}
    # Other syntax errors keep their message, with a code.
    bad = await b.gql("{ project(id: ")
    assert "Syntax Error" in bad["errors"][0]["message"]
    assert bad["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def _schema(cache: DocumentCache, **limits):
    return build_schema(GraphQLLimits(**limits), cache=cache)


async def test_only_valid_documents_are_cached():
    cache = DocumentCache(10 * 1024 * 1024)
    schema = _schema(cache, cost=CostLimits(max_cost=1000))
    ok = "{ __typename }"
    syntax = "{ __typename "
    invalid = "{ nope }"
    too_costly = '{ releases(projectIds: ["1"], first: 500) { nodes { version } } }'
    for q in (ok, syntax, invalid, too_costly):
        result = await schema.execute(q)
        assert (result.errors is None) == (q == ok), (q, result.errors)
    assert ok in cache
    assert len(cache) == 1
    # A cached document is served again without parsing (the very same AST).
    document = cache.get(ok)
    await schema.execute(ok)
    assert cache.get(ok) is document


async def _memory_kept(limit: int, tag: str) -> tuple[int, DocumentCache]:
    """Bytes still allocated after running 24 distinct 20 kB valid documents through a
    schema whose cache holds `limit` bytes."""
    cache = DocumentCache(limit)
    schema = _schema(cache)
    await schema.execute("{ __typename }")
    queries = ['{ __type(name: "%s%d%s") { name } }' % (tag, i, "x" * 20_000) for i in range(24)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for q in queries:
            result = await schema.execute(q)
            assert result.errors is None
            del result
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before, cache
    finally:
        tracemalloc.stop()


async def test_cache_is_bounded_in_bytes_of_real_memory():
    """Twenty-four distinct 20 kB documents through a 256 kB cache: the memory they keep,
    measured with tracemalloc against the same run without a cache (graphql-core keeps
    some tables of its own), stays under the bound."""
    limit = 256 * 1024
    baseline, _ = await _memory_kept(0, "a")
    kept, cache = await _memory_kept(limit, "b")
    assert 0 < len(cache) < 24
    assert limit / 2 <= cache.bytes <= limit  # it does cache, within the bound
    assert kept - baseline <= limit, (kept, baseline)


def test_the_size_estimate_covers_the_parsed_document():
    """`document_bytes` is at least what parsing keeps alive, for token-heavy, string-heavy
    and tiny documents."""
    shapes = [
        "{ a }",
        "{ "
        + " ".join(f'f{i}: releases(projectIds: ["1"]) {{ nodes {{ version }} }}' for i in range(300))
        + " }",
        '{ x(a: "%s") }' % ("y" * 100_000),
        "{ x(a: [" + ",".join(["1"] * 5000) + "]) }",
        "query Q($a: Int = 1) { ...F } fragment F on Query { a { b c d } }",
    ]
    for q in shapes:
        q = "".join(list(q))  # a fresh string, allocated under tracing below
        gc.collect()
        tracemalloc.start()
        try:
            text = "".join(list(q))
            document = parse(text)
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert document_bytes(text, document) >= kept, (q[:40], document_bytes(text, document), kept)


def test_the_cache_evicts_least_recently_used():
    docs = {q: parse(q) for q in ("{ a }", "{ b }", "{ c }")}
    size = document_bytes("{ a }", docs["{ a }"])
    cache = DocumentCache(2 * size + 10)
    cache.put("{ a }", docs["{ a }"])
    cache.put("{ b }", docs["{ b }"])
    cache.get("{ a }")
    cache.put("{ c }", docs["{ c }"])
    assert "{ a }" in cache and "{ c }" in cache and "{ b }" not in cache
    assert cache.bytes <= 2 * size + 10
    # A document larger than the whole cache is not kept (and evicts nothing).
    huge = '{ x(a: "%s") }' % ("y" * 20_000)
    cache.put(huge, parse(huge))
    assert huge not in cache and len(cache) == 2


async def test_execution_timeout_answers_timeout(make_app, sqlite_url, monkeypatch):
    b = await backend(make_app, sqlite_url, graphql_timeout_seconds=0.3)

    async def slow(*args, **kwargs):
        await asyncio.sleep(30)  # a database that does not answer

    monkeypatch.setattr(health, "releases_by_stability", slow)
    started = time.perf_counter()
    r = await b.app.client.post(
        "/graphql/v1",
        json={"query": '{ releases(projectIds: ["1"]) { totalCount } }'},
        headers={"Authorization": f"Bearer {b.token}"},
    )
    assert time.perf_counter() - started < 10
    assert r.status_code == 503
    body = r.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert "0.3 s" in body["errors"][0]["message"]
