"""Bulk import parsed in worker processes (`jobs.import_pool`): the same report, the same
numbers and the same chunk records as parsing in place, resumable the same way; and the
pure run parser (`jobs.import_parse`) those workers run."""

from __future__ import annotations

import dataclasses
import pickle
import time

import pytest
from sqlalchemy import text

from jobs.import_parse import MissingOrgs, ParsedRun, _compact, parse_run
from jobs.importer import run_import
from server.settings import Settings
from storage.types import NO_DIMENSIONS, ClientDimensions
from tests.test_import import LINES, _session, _totals

RECEIVED = 1_704_900_000.0  # 2024-01-10T15:20:00Z


async def _chunks(engine, import_id):
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT first_line, last_line FROM import_chunk WHERE import_id = :i ORDER BY first_line"),
            {"i": import_id},
        )
        return [tuple(r) for r in rows]


@pytest.mark.parametrize("workers", [0, 1])
async def test_workers_give_the_same_report_numbers_and_chunks(make_app, database_url, workers):
    app = await make_app(Settings(database_url=database_url))
    await app.services.accounts.create_project("acme", "web", 11)
    s = app.services
    # Chunks of 3 lines: line 9's organization `other` first appears in the third chunk, so
    # a worker meets an organization the importer has not looked up yet.
    report = await run_import(
        [line.encode() for line in LINES],
        import_id="w",
        store=s.store,
        accounts=s.accounts,
        received_at=time.time(),
        chunk_lines=3,
        workers=workers,
    )
    # The hand-worked figures of tests/test_import.py: lines 1, 2, 6, 8 accepted.
    assert (report.lines, report.accepted) == (10, 4)
    assert [(r.line_no, r.reason) for r in report.rejected] == [
        (3, "invalid_json"),
        (4, "unknown_project"),
        (5, "invalid_release"),
        (9, "unknown_organization"),
        (10, "unknown_status"),
    ]
    agg = await _totals(s.store)
    assert (agg.counters.started, agg.counters.crashed, agg.counters.errored_preaggr) == (9, 2, 1)
    assert agg.users.all == 2 and agg.users.crashed == 1
    outcomes = {(t, k, r): n for p, t, k, r, n in await s.store.outcome_totals()}
    assert outcomes[("session", "accepted", "")] == 3
    assert outcomes[("sessions", "accepted", "")] == 1
    assert outcomes[("session", "dropped", "invalid_release")] == 1
    # One chunk record per 3 lines, exactly as when parsing in place.
    assert await _chunks(s.engine, "w") == [(1, 3), (4, 6), (7, 9), (10, 10)]


async def test_interrupted_import_with_workers_resumes_without_double_counting(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url))
    await app.services.accounts.create_project("acme", "web", 11)
    s = app.services
    lines = [_session("web", f"{i:032x}").encode() for i in range(1, 501)]

    class Interrupted(Exception):
        pass

    def stop_after_two_chunks(n: int) -> None:
        if n >= 200:
            raise Interrupted

    with pytest.raises(Interrupted):
        await run_import(
            lines,
            import_id="big",
            store=s.store,
            accounts=s.accounts,
            received_at=time.time(),
            chunk_lines=100,
            workers=2,
            progress=stop_after_two_chunks,
        )
    # Runs parsed ahead by the workers were never committed: only two chunks count.
    assert (await _totals(s.store)).counters.started == 200
    resumed = await run_import(
        lines,
        import_id="big",
        store=s.store,
        accounts=s.accounts,
        received_at=time.time(),
        chunk_lines=100,
        workers=2,
    )
    assert (resumed.accepted, resumed.skipped) == (300, 200)
    assert (await _totals(s.store)).counters.started == 500
    assert await _chunks(s.engine, "big") == [(1, 100), (101, 200), (201, 300), (301, 400), (401, 500)]


ORGS = {"acme": {"web": 11, 11: 11}, "other": None}


def _numbered(lines):
    return [(n, line.encode()) for n, line in enumerate(lines, start=1)]


def test_parse_run_compact_gives_the_same_batch():
    plain = parse_run(_numbered(LINES), ORGS, None, RECEIVED)
    compact = parse_run(_numbered(LINES), ORGS, None, RECEIVED, compact=True)
    assert isinstance(plain, ParsedRun) and isinstance(compact, ParsedRun)
    assert compact.batch() == plain.batch()
    # Lines 1, 2, 8 give one increment each, line 6 one per aggregate bucket (1); line 5
    # and 10 are dropped by validation, so they add outcomes but no increment.
    assert len(plain.batch().increments) == 4
    assert (plain.accepted, [r.line_no for r in plain.rejected]) == (4, [3, 4, 5, 9, 10])


def test_compact_runs_come_back_from_a_worker_with_the_writers_no_dimensions():
    """A run pickled across processes (as `jobs.import_pool` does) must rebuild
    increments without client dimensions with this process's `NO_DIMENSIONS` object: the
    writer tells them by identity, and an unpickled copy would be looked up as a client."""
    compact = parse_run(_numbered(LINES), ORGS, None, RECEIVED, compact=True)
    back = pickle.loads(pickle.dumps(compact))
    increments = back.batch().increments
    assert len(increments) == 4 and all(inc.dimensions is NO_DIMENSIONS for inc in increments)
    # Dimensions that are set travel as they are.
    dims = ClientDimensions(sdk_name="sentry.javascript.browser", browser_name="Chrome")
    run = ParsedRun([dataclasses.replace(increments[0], dimensions=dims)], compact=False)
    run.increments = [_compact(run.increments[0])]
    run.compact = True
    assert pickle.loads(pickle.dumps(run)).batch().increments[0].dimensions == dims


def test_parse_run_folds_outcomes_by_key():
    lines = [_session("web", f"{i:032x}") for i in range(1, 8)]
    run = parse_run(_numbered(lines), ORGS, None, RECEIVED)
    assert isinstance(run, ParsedRun)
    # Seven accepted session lines: one outcome (project 11, session, accepted) of 7.
    assert [(o.project_id, o.item_type, o.kind, o.reason, o.quantity) for o in run.outcomes] == [
        (11, "session", "accepted", "", 7)
    ]


def test_parse_run_names_every_organization_it_does_not_know():
    lines = [
        _session("web", f"{1:032x}"),
        _session("web", f"{2:032x}").replace('"acme"', '"beta"'),
        _session("web", f"{3:032x}").replace('"acme"', '"gamma"'),
    ]
    assert parse_run(_numbered(lines), {"acme": ORGS["acme"]}, None, RECEIVED) == MissingOrgs(
        frozenset({"beta", "gamma"})
    )
    # The API import names its organization: others are rejected, never looked up.
    only = parse_run(_numbered(lines), {"acme": ORGS["acme"]}, "acme", RECEIVED)
    assert isinstance(only, ParsedRun)
    assert [(r.line_no, r.reason) for r in only.rejected] == [
        (2, "organization_mismatch"),
        (3, "organization_mismatch"),
    ]


async def test_a_line_the_database_refuses_is_rejected_alone_with_workers(make_app, sqlite_url):
    from tests.test_ingest_edge_storage import RECEIVED as EDGE_RECEIVED
    from tests.test_ingest_edge_storage import RefusingStore, app_for, record, totals

    app = await app_for(make_app, sqlite_url)
    lines = [record("a", 1), record("b", 2, attrs={"release": "refused@1"}), record("c", 3), record("d", 4)]
    store = RefusingStore(app.services.store)
    report = await run_import(
        [line.encode() for line in lines],
        import_id="x",
        store=store,
        accounts=app.services.accounts,
        received_at=EDGE_RECEIVED,
        chunk_lines=2,
        workers=1,
    )
    # Chunk 1-2 fails whole and is applied line by line (line 2 refused); chunk 3-4 commits.
    assert report.accepted == 3
    assert [(r.line_no, r.reason) for r in report.rejected] == [(2, "unstorable")]
    assert (await totals(app)).counters.started == 3
    assert await _chunks(app.services.engine, "x") == [(1, 1), (2, 2), (3, 4)]
