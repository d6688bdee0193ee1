"""The attack harness's pure helpers build what issue 7 describes, and ingest / GraphQL
read them as intended (the attacks themselves run with `python -m bench.attacks`)."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse

from bench import attack_payloads as p
from bench.attack_report import compare_markdown, summarize
from bench.attacks import ATTACKS, parse_only
from ingest.envelope import DEFAULT_MAX_ITEM_SIZE, check_limits, parse_envelope
from ingest.items import ItemContext, envelope_batch
from ingest.records import ImportRecord, parse_record, record_batch, rejection
from ingest.request import DEFAULT_MAX_ENVELOPE_SIZE

NOW = time.time()


def _batch(body: bytes):
    envelope = parse_envelope(body)
    check_limits(envelope)
    return envelope, envelope_batch(envelope, ItemContext(project_id=1, received_at=NOW))


def _dropped(batch) -> list[str]:
    return [o.reason for o in batch.outcomes if o.kind == "dropped"]


def test_bomb_is_tiny_non_session_items_under_the_envelope_limit():
    body = p.bomb_envelope(items=1000)
    decoded = gzip.decompress(body)
    assert decoded == b"{}\n" + b'{"type":"x"}\n{}\n' * 1000
    envelope, batch = _batch(decoded)
    assert len(envelope.items) == 1000 and {i.type for i in envelope.items} == {"x"}
    assert not batch.increments
    # The full-size bomb decodes to just under the default 100 MiB envelope limit.
    assert 95 * 2**20 < 3 + len(p.BOMB_ITEM) * p.BOMB_ITEMS < DEFAULT_MAX_ENVELOPE_SIZE


def test_big_sessions_envelope_is_legal():
    envelope, batch = _batch(gzip.decompress(p.big_sessions_envelope(NOW, items=3, buckets=40)))
    assert [i.type for i in envelope.items] == ["sessions"] * 3
    assert len(batch.increments) == 3 * 40 and not _dropped(batch)
    # One full-size item (11,000 buckets over 92 hours) fits the 1 MiB item limit and the
    # 5-day window.
    full = p.aggregate_payload(NOW, "web@1", p.BIG_SESSIONS_BUCKETS)
    assert len(full) < DEFAULT_MAX_ITEM_SIZE
    body = b'{}\n{"type":"sessions"}\n' + full + b"\n"
    _, batch = _batch(body)
    assert len(batch.increments) == p.BIG_SESSIONS_BUCKETS and not _dropped(batch)


def test_flood_names_a_new_series_per_item():
    bodies = p.flood_envelopes(NOW, series=250, per_envelope=100)
    assert len(bodies) == 3
    series = set()
    for body in bodies:
        _, batch = _batch(body)
        assert not _dropped(batch)
        series |= {(i.release, i.environment) for i in batch.increments}
    assert len(series) == 250


def test_huge_did_sessions_are_accepted_with_their_did():
    _, batch = _batch(gzip.decompress(p.huge_did_envelope(NOW, did_bytes=5000, items=3)))
    users = {i.user for i in batch.increments}
    # Three distinct users, each kept as the stable hash of its oversized did.
    assert len(users) == 3 and all(u is not None and u.startswith("sha256:") for u in users)
    assert not _dropped(batch)
    full = p.session_payload(NOW, "web@1.0.0", did="d" * p.HUGE_DID_BYTES)
    assert len(full) < DEFAULT_MAX_ITEM_SIZE
    _, batch = _batch(p.nul_did_envelope(NOW))
    nul_user = batch.increments[0].user
    assert nul_user is not None and nul_user.startswith("sha256:") and "\x00" not in nul_user


def test_huge_count_is_one_bucket_of_u32_max_sessions():
    _, batch = _batch(p.huge_count_envelope(NOW, "web@huge"))
    assert [i.started_count for i in batch.increments] == [p.U32_MAX]


def _depth(node, level=0) -> int:
    selections = getattr(getattr(node, "selection_set", None), "selections", None) or []
    return max((_depth(s, level + 1) for s in selections), default=level)


def test_nested_query_fits_the_depth_limit_with_three_levels_of_releases():
    query = p.nested_query(7)
    doc = parse(query)
    assert _depth(doc.definitions[0]) == 12
    assert query.count("releases(") == 3 and query.count("first: 38") == 3
    assert 38**3 >= 15**4  # at least as many release nodes as v1's 4 levels of 15


def test_heavy_query_has_thirty_distinct_aliases_of_full_pages():
    start, end = NOW - 41 * 86400, NOW
    query = p.heavy_query(7, start, end)
    op = parse(query).definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    fields = op.selection_set.selections
    assert len(fields) == 30
    assert all(isinstance(f, FieldNode) and f.name.value == "project" for f in fields)
    assert len({f.alias.value for f in fields}) == 30
    assert query.count("first: 100") == 30 and query.count("interval: HOUR") == 30
    # No two aliases share series arguments (no dataloader sharing).
    assert len(set(re.findall(r'start: "([^"]+)"', query))) == 30


def test_parser_cache_queries_are_distinct_documents_of_the_given_size():
    queries = p.parser_cache_queries(count=3, size=20_000)
    assert len(set(queries)) == 3
    for q in queries:
        assert 19_000 < len(q) <= 20_000
        parse(q)


def test_dataset_lines_are_valid_import_records():
    lines = p.dataset_lines("acme", "web", NOW, releases=3, days=2, hours_per_day=4).splitlines()
    assert len(lines) == 3 * 2
    releases = set()
    for n, line in enumerate(lines, 1):
        record = parse_record(line, n)
        assert isinstance(record, ImportRecord)
        batch = record_batch(record, 1, NOW)
        assert rejection(batch) is None and len(batch.increments) == 4
        releases.add(record.payload["attrs"]["release"])
    assert len(releases) == 3


def test_filters_and_import_body():
    assert p.nested_filter(5) == "(((((release:x)))))"
    assert p.or_filter(3000).count(" OR ") == 2999
    lines = p.import_body("acme", "web", NOW, 5).splitlines()
    assert len(lines) == 5 and all(json.loads(line)["org"] == "acme" for line in lines)


def test_only_accepts_known_attack_names():
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names)) >= 16
    assert parse_only("cors_preflight, metrics_open") == ["cors_preflight", "metrics_open"]
    assert parse_only(None) == names
    with pytest.raises(argparse.ArgumentTypeError, match="unknown attack"):
        parse_only("cors_preflight,nope")


def _result(outcome: str, status: int, code: str | None, peak: float, victim_ms: float) -> dict:
    return {
        "outcome": outcome,
        "seconds": 1.5,
        "answers": {"bomb": {"status": status, "errors": [{"message": "boom", "code": code}]}},
        "findings": {"series_created": 30000},
        "rss_mib": {"before": 90.0, "peak": peak, "after": 95.0, "retained": 5.0},
        "victims": {"envelope": {"max_ms": victim_ms}, "graphql": {"max_ms": 12.0}},
        "readyz_after": 200 if outcome == "done" else "no answer within 15 s",
        "server_tracebacks": 0 if outcome == "done" else 3,
    }


def test_compare_puts_before_and_after_of_each_attack_side_by_side():
    meta = {"command": "python -m bench.attacks", "commit": "abc", "date": "today", "backend": "sqlite"}
    before = {"meta": meta, "attacks": {"ingest_bomb_x3": _result("timeout", 500, None, 7100.0, 70_000.0)}}
    after = {
        "meta": meta,
        "attacks": {"ingest_bomb_x3": _result("done", 413, "PAYLOAD_TOO_LARGE", 120.0, 8.0)},
    }
    table = compare_markdown(before, after).splitlines()
    rows = [line for line in table if line.startswith("| ingest_bomb_x3")]
    assert len(rows) == 2
    assert (
        "| BEFORE | timeout 1.5 s, readyz after: no answer within 15 s, 3 tracebacks logged "
        "| bomb 500 [no code: boom] | 90 → 7100" in rows[0]
    )
    assert "envelope 70.0 s" in rows[0] and "series_created=30000" in rows[0]
    assert "| AFTER | done 1.5 s | bomb 413 [PAYLOAD_TOO_LARGE] | 90 → 120" in rows[1]
    assert "envelope 8 ms" in rows[1]
    assert summarize({"outcome": "harness_error", "error": "x"}) == {"outcome": "harness_error: x"}


def test_equal_consecutive_answers_share_one_entry():
    result = _result("done", 200, None, 100.0, 5.0)
    same = {"status": 200, "errors": [{"message": "Unknown argument", "code": "GRAPHQL_VALIDATION_FAILED"}]}
    result["answers"] = {
        **{f"query_{n}": same for n in range(10)},
        "pending": {"status": None, "error": "unanswered", "ms": 60000.0},
    }
    assert summarize(result)["answers"] == (
        "query_0…query_9 (10×) 200 [GRAPHQL_VALIDATION_FAILED]; pending unanswered"
    )
