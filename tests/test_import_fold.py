"""Bulk-import runs folded into fact rows where they are parsed (`storage.sql.import_rows`)
and committed from those rows (`storage.sql.import_write`): they must store exactly what
the live write path stores from the same increments."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from jobs.import_parse import ParsedRun, parse_run
from jobs.importer import run_import
from server.settings import Settings
from storage import distinct
from storage.sql import durations
from storage.sql.import_rows import FoldSpec, fold_run
from storage.sql.import_write import RANGE_GAP, bucket_ranges, merged_rows, sqlite_ranges
from storage.types import DAY, HOUR, MINUTE, ClientDimensions, SessionIncrement, WriteBatch

RECEIVED = 1_800_000_000.0
UA_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
UA_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lines(org: str, project: str, now: float) -> list[str]:
    """Sessions over two days (recent: minute buckets are written) with repeat users,
    errors, durations, user agents (client series) and releases that first appear late
    in the import (series created mid-import), plus aggregate records."""
    rng = random.Random(8)
    users = [f"user-{i}" for i in range(25)]
    out = []
    start = now - 2 * DAY
    for i in range(400):
        t = start + i * 400 + rng.uniform(0, 60)
        release = f"app@1.{min(i // 100, 3)}" if rng.random() < 0.8 else "app@0.9"
        attrs: dict[str, object] = {"release": release, "environment": rng.choice(["production", "staging"])}
        if i % 3 == 0:
            attrs["user_agent"] = rng.choice([UA_CHROME, UA_IOS])
        if i % 17 == 0:
            out.append(
                json.dumps(
                    {
                        "type": "sessions",
                        "org": org,
                        "project": project,
                        "attrs": attrs,
                        "aggregates": [
                            {
                                "started": _iso(t - t % 60 + 60 * k),
                                "exited": 3,
                                "errored": k % 2,
                                "did": "agg",
                            }
                            for k in range(3)
                        ],
                    }
                )
            )
            continue
        status = rng.choice(["exited"] * 6 + ["crashed", "abnormal", "errored"])
        base = {
            "type": "session",
            "org": org,
            "project": project,
            "sid": f"{i + 1:032x}",
            "did": rng.choice(users),
            "started": _iso(t),
            "attrs": attrs,
        }
        out.append(json.dumps({**base, "seq": 0, "init": True, "timestamp": _iso(t), "status": "ok"}))
        final = {
            **base,
            "seq": 1,
            "timestamp": _iso(t + 30),
            "status": status,
            "errors": int(status != "exited"),
        }
        if status == "exited":
            final["duration"] = round(rng.uniform(0.5, 900), 3)
        out.append(json.dumps(final))
    return out


async def _stored(engine, project_id):
    """Everything stored for a project, keyed by what series ids stand for."""
    series = (
        "SELECT re.id, re.release, re.environment, re.first_seen, COALESCE(dv.family, -1),"
        " COALESCE(dv.name, ''), COALESCE(dv.major, '') FROM release_env re"
        " LEFT JOIN dim_value dv ON dv.id = re.client WHERE re.project_id = :p"
    )
    async with engine.connect() as conn:
        names = {r[0]: tuple(r[1:]) for r in await conn.execute(text(series), {"p": project_id})}
        counters = await conn.execute(
            text(
                "SELECT * FROM fact_counter WHERE series_id IN (SELECT id FROM release_env WHERE project_id = :p)"
            ),
            {"p": project_id},
        )
        counter_rows = sorted((names[r[1]], r[0], *r[2:]) for r in counters)
        blobs = await conn.execute(
            text(
                "SELECT * FROM fact_sketch WHERE series_id IN (SELECT id FROM release_env WHERE project_id = :p)"
            ),
            {"p": project_id},
        )
        sketch_rows = sorted((names[r[1]], r[0], r[2], r[3], bytes(r[4])) for r in blobs)
        outcomes = await conn.execute(
            text("SELECT hour, item_type, kind, reason, count FROM ingest_outcome WHERE project_id = :p"),
            {"p": project_id},
        )
        outcome_rows = sorted(tuple(r) for r in outcomes)
    return sorted(names.values()), counter_rows, sketch_rows, outcome_rows


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_folded_import_stores_what_the_live_write_path_stores(make_app, database_url, workers):
    app = await make_app(Settings(database_url=database_url))
    s = app.services
    await s.accounts.create_project("acme", "web", 11)
    await s.accounts.create_project("beta", "web", 12)
    now = time.time() // 60 * 60
    acme, beta = _lines("acme", "web", now), _lines("beta", "web", now)
    # Without workers runs are not folded (the live writer's path); with them they are.
    # Small chunks: sketches and duration bins of hours and days are merged into stored
    # ones from chunk to chunk, and new releases show up in later chunks.
    common = {"accounts": s.accounts, "received_at": RECEIVED, "chunk_lines": 37}
    plain = await run_import([x.encode() for x in acme], import_id="p", store=s.store, **common)
    folded = await run_import(
        [x.encode() for x in beta], import_id="f", store=s.store, workers=workers, **common
    )
    assert (plain.lines, plain.accepted, plain.rejected) == (folded.lines, folded.accepted, folded.rejected)
    expected, got = await _stored(s.engine, 11), await _stored(s.engine, 12)
    assert got[0] == expected[0]  # series (with their first_seen), client ones included
    assert {r[3] for r in got[0]} == {-1, 1, 2}  # base, os and browser series
    assert {row[1] for row in got[1]} == {MINUTE, HOUR, DAY}
    assert got[1] == expected[1]  # counters
    assert got[2] == expected[2]  # sketches and duration bins, byte for byte
    assert got[3] == expected[3]  # outcomes


def test_fold_run_gives_placeholders_to_series_it_does_not_know():
    incs = [
        SessionIncrement(1, "a@1", "prod", 7200.0, started_count=1, user="u"),
        SessionIncrement(1, "b@1", None, 3900.0, started_count=1),
        SessionIncrement(1, "b@1", None, 3700.0, crashed=1, error_sid="s"),
    ]
    dims = ClientDimensions(os_name="iOS", os_major="iOS 17")
    incs.append(SessionIncrement(1, "a@1", "prod", 7300.0, user="v", user_tags=1, dimensions=dims))
    run = fold_run(WriteBatch(incs), FoldSpec({(1, "a@1", "prod"): 5}, None, sort=True))
    # The unknown series gets placeholder -1 and its earliest start; its rows travel apart.
    assert run.new_series == {(1, "b@1", None): (-1, 3700.0)}
    assert {r[1] for r in run.counters} == {5} and {r[1] for r in run.sketches} == {5}
    assert {r[1] for r in run.new_counters} == {-1} and {r[1] for r in run.new_sketches} == {-1}
    assert run.counters == sorted(run.counters)
    # The increment with client dimensions is folded into its base series and also travels.
    assert [SessionIncrement(*t) for t in run.dimensioned] == [incs[3]]
    users = [r for r in run.sketches if r[:4] == (HOUR, 5, 7200, 0)]
    assert len(users) == 1 and distinct.count_of(users[0][4]).value == 2


def test_parse_run_with_a_fold_spec_carries_rows_not_increments():
    from tests.test_import import LINES
    from tests.test_import_workers import ORGS, _numbered

    run = parse_run(_numbered(LINES), ORGS, None, RECEIVED, compact=True, fold=FoldSpec({}, None, False))
    assert isinstance(run, ParsedRun) and run.folded is not None
    assert (run.increments, run.outcomes, run.accepted) == ([], [], 4)
    # Every run's series is new to an empty snapshot.
    assert set(run.folded.new_series) == {(11, "app@1.0", None), (11, "app@1.0", "production")}
    assert not run.folded.counters and run.folded.new_counters


def test_merged_rows_write_new_keys_as_they_are_and_merge_stored_ones():
    a, ab = distinct.encode(["a"]), distinct.encode(["a", "b"])
    bins = durations.encode({3: 1})
    rows = [(HOUR, 1, 0, 0, a), (HOUR, 1, 0, 1, a), (HOUR, 1, 0, 2, a), (HOUR, 1, 0, 8, bins)]
    stored = {(HOUR, 1, 0, 1): ab, (HOUR, 1, 0, 2): distinct.encode(["b"]), (HOUR, 1, 0, 8): bins}
    out = merged_rows(rows, stored)
    # Kind 0: nothing stored, written as is. Kind 1: no new member, no write. Kind 2:
    # the union. Duration bins: added.
    assert out == [rows[0], (HOUR, 1, 0, 2, ab), (HOUR, 1, 0, 8, durations.encode({3: 2}))]
    assert merged_rows(rows, {}) == rows


def test_bucket_ranges_cover_every_key_with_few_untouched_buckets():
    keys = [(MINUTE, 1, 0, 0), (MINUTE, 1, 60, 7), (MINUTE, 1, 240, 0), (MINUTE, 1, 301 * 60, 8)]
    keys += [(HOUR, 1, 3600, 0), (HOUR, 2, 3600, 0), (HOUR, 2, 0, 1)]
    # Buckets at most RANGE_GAP apart share a range (0..240 s); 301 min is on its own.
    assert bucket_ranges(keys) == [
        (MINUTE, 1, 0, 240),
        (MINUTE, 1, 301 * 60, 301 * 60),
        (HOUR, 1, 3600, 3600),
        (HOUR, 2, 0, 3600),
    ]
    assert RANGE_GAP == 4
    assert json.loads(sqlite_ranges([(60, 1, 0, 240)])) == [[60, 1, 0, 240]]


def test_merged_rows_ignore_stored_rows_the_run_does_not_touch():
    a = distinct.encode(["a"])
    # A range read returns the untouched bucket 60 too: it is neither written nor merged.
    stored = {(MINUTE, 1, 60, 0): distinct.encode(["x"]), (MINUTE, 1, 0, 0): distinct.encode(["b"])}
    assert merged_rows([(MINUTE, 1, 0, 0, a)], stored) == [(MINUTE, 1, 0, 0, distinct.encode(["a", "b"]))]


async def test_a_folded_run_the_database_refuses_is_applied_line_by_line(make_app, sqlite_url, monkeypatch):
    """The folded commit fails as the live one does (DataError): the chunk is applied line
    by line instead, the refused line alone rejected."""
    from sqlalchemy.exc import DataError

    import jobs.importer
    from tests.test_ingest_edge_storage import RECEIVED as EDGE_RECEIVED
    from tests.test_ingest_edge_storage import app_for, record, totals

    app = await app_for(make_app, sqlite_url)
    store = app.services.store
    folded_calls = []

    def refuse(triples):
        if any(release == "refused@1" for _, release, _ in triples):
            raise DataError("INSERT ...", {}, ValueError("invalid byte sequence"))

    async def write_folded(store, run, *, import_chunk):
        folded_calls.append(import_chunk[2:])
        refuse(run.new_series)
        return await real_write_folded(store, run, import_chunk=import_chunk)

    async def apply(batches, *, import_chunk=None):
        for batch in batches:
            refuse((i.project_id, i.release, i.environment) for i in batch.increments)
        await real_apply(batches, import_chunk=import_chunk)

    real_write_folded, real_apply = jobs.importer.write_folded, store.apply
    monkeypatch.setattr(jobs.importer, "write_folded", write_folded)
    monkeypatch.setattr(store, "apply", apply)
    lines = [record("a", 1), record("b", 2, attrs={"release": "refused@1"}), record("c", 3), record("d", 4)]
    report = await run_import(
        [line.encode() for line in lines],
        import_id="x",
        store=store,
        accounts=app.services.accounts,
        received_at=EDGE_RECEIVED,
        chunk_lines=2,
        workers=1,
    )
    assert folded_calls == [(1, 2), (3, 4)]
    assert report.accepted == 3
    assert [(r.line_no, r.reason) for r in report.rejected] == [(2, "unstorable")]
    assert (await totals(app)).counters.started == 3


async def test_without_workers_runs_are_not_folded(make_app, sqlite_url, monkeypatch):
    """The import API parses in place, on the event loop: its runs go through the live
    writer, which folds big batches off the loop."""
    import jobs.importer

    app = await make_app(Settings(database_url=sqlite_url))
    await app.services.accounts.create_project("acme", "web", 11)

    async def never(*args, **kwargs):
        raise AssertionError("folded without workers")

    monkeypatch.setattr(jobs.importer, "write_folded", never)
    lines = _lines("acme", "web", time.time() // 60 * 60)[:20]
    report = await run_import(
        [x.encode() for x in lines],
        import_id="api",
        store=app.services.store,
        accounts=app.services.accounts,
        received_at=RECEIVED,
    )
    assert report.accepted == 20
