"""`did` values the databases cannot hold, huge durations, and import lines the database
refuses: the same answer on SQLite and PostgreSQL, never a 503 for ever or a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.exc import DataError

from ingest.quantities import HASHED_DID_PREFIX, MAX_DID_BYTES, stored_user
from jobs.importer import run_import
from server.clock import FixedClock
from server.settings import Settings
from storage import distinct
from storage.types import HOUR, AggregateQuery, Quantity

RECEIVED = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
KEY = "e12d836b15bb49d7bbf99e64295d995b"
AUTH = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
HUGE_DID = "u" * (1000 * 1024)


def update(did: str, **extra: object) -> dict[str, object]:
    return {
        "init": True,
        "started": "2025-06-02T09:58:12Z",
        "status": "exited",
        "did": did,
        "attrs": {"release": "r@1", "environment": "production"},
        **extra,
    }


def envelope(*payloads: dict[str, object]) -> bytes:
    lines = ["{}"]
    for payload in payloads:
        lines += ['{"type":"session"}', json.dumps(payload)]
    return ("\n".join(lines) + "\n").encode()


async def app_for(make_app, url):
    app = await make_app(Settings(database_url=url), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    return app


async def totals(app):
    result = await app.services.store.aggregate(
        AggregateQuery(
            project_ids=(42,), start=0, end=2_000_000_000, granularity=HOUR, quantities=frozenset(Quantity)
        )
    )
    return next(iter(result.totals.values()))


async def stored_users_are(app, dids: list[str]) -> bool:
    """Whether the stored user set (hourly sketches) is exactly `dids`: its union with them
    is no bigger than either."""
    async with app.services.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT sketch FROM fact_sketch WHERE granularity = 3600 AND kind = 0")
        )
        stored = distinct.merge_blobs(bytes(r[0]) for r in rows)
    both = distinct.merge_blobs([stored, distinct.encode(dids)])
    return distinct.count_of(stored).value == distinct.count_of(both).value == len(set(dids))


def test_stored_user_rule():
    assert stored_user(None) is None
    assert stored_user("00000000-0000-0000-0000-000000000000") is None
    assert stored_user("") == ""
    assert stored_user("user-42") == "user-42"
    edge = "é" * (MAX_DID_BYTES // 2)  # exactly the limit in UTF-8 bytes
    assert stored_user(edge) == edge
    for bad in (edge + "x", "a\0b", "tab\there", "del\x7f", HUGE_DID):
        hashed = stored_user(bad)
        assert hashed is not None and hashed.startswith(HASHED_DID_PREFIX) and len(hashed) == 71
        assert stored_user(bad) == hashed  # stable
    assert stored_user("a\0b") != stored_user("a\0c")


async def test_huge_and_control_character_dids_on_both_databases(make_app, database_url):
    app = await app_for(make_app, database_url)
    body = envelope(
        update(HUGE_DID),
        update("nul\0user"),
        update("nul\0user", status="crashed", init=False),
        update("plain"),
    )
    assert len(body) < 1024 * 1024 + 4096
    r = await app.client.post("/api/42/envelope/", content=body, headers=AUTH)
    assert r.status_code == 200, r.text
    # Sent again: the same users, not new ones.
    r = await app.client.post("/api/42/envelope/", content=envelope(update(HUGE_DID)), headers=AUTH)
    assert r.status_code == 200, r.text
    agg = await totals(app)
    assert agg.users.all == 3 and agg.users.crashed == 1 and agg.counters.started == 4
    dids = ["plain", stored_user(HUGE_DID), stored_user("nul\0user")]
    assert all(d is not None and len(d.encode()) <= MAX_DID_BYTES for d in dids)
    assert await stored_users_are(app, dids)  # type: ignore[arg-type]


async def test_huge_durations_are_not_recorded(make_app, database_url):
    app = await app_for(make_app, database_url)
    body = envelope(update("a", duration=1e308), update("b", duration=1e308), update("c", duration=30.0))
    r = await app.client.post("/api/42/envelope/", content=body, headers=AUTH)
    assert r.status_code == 200, r.text
    agg = await totals(app)
    assert agg.durations.count == 1 and agg.durations.sum == 30.0


def record(did: object, sid: int, **extra: object) -> str:
    line = {
        "type": "session",
        "org": "acme",
        "project": "app",
        "sid": f"{sid:032x}",
        "init": True,
        "started": "2024-01-10T12:00:00Z",
        "status": "exited",
        "did": did,
        "attrs": {"release": "app@1.0"},
        **extra,
    }
    return json.dumps(line)


async def test_import_api_never_answers_500_for_bad_dids(make_app, database_url):
    app = await app_for(make_app, database_url)
    token = await app.services.accounts.create_token("acme", ["org:write"])
    lines = [
        record("ok-user", 1),
        record("nul\0user", 2),
        record(HUGE_DID[:10_000], 3),
        record("big-duration", 4, duration=1e308),
        record("big-duration-2", 5, duration=1e308),
        "{broken",
        record("ok-user-2", 6),
    ]
    r = await app.client.post(
        "/api/0/organizations/acme/sessions/import/",
        content="\n".join(lines).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["accepted"] == 6
    assert [(x["line"], x["reason"]) for x in report["rejected"]] == [(6, "invalid_json")]
    agg = await totals(app)
    assert agg.counters.started == 6 and agg.users.all == 6 and agg.durations.count == 0


class RefusingStore:
    """A store whose database refuses any batch holding release `refused@1` (a stand-in for
    a value a future bug lets through), as PostgreSQL refuses NUL characters."""

    def __init__(self, store):
        self.store = store
        self.engine = store.engine

    async def apply(self, batches, *, import_chunk=None):
        for batch in batches:
            if any(i.release == "refused@1" for i in batch.increments):
                raise DataError("INSERT ...", {}, ValueError("invalid byte sequence\nmore"))
        await self.store.apply(batches, import_chunk=import_chunk)


async def test_a_line_the_database_refuses_is_rejected_alone(make_app, sqlite_url):
    app = await app_for(make_app, sqlite_url)
    lines = [record("a", 1), record("b", 2, attrs={"release": "refused@1"}), record("c", 3)]
    store = RefusingStore(app.services.store)
    report = await run_import(
        [line.encode() for line in lines],
        import_id="x",
        store=store,
        accounts=app.services.accounts,
        received_at=RECEIVED,
    )
    assert report.accepted == 2
    assert [(r.line_no, r.reason, r.detail) for r in report.rejected] == [
        (2, "unstorable", "invalid byte sequence")
    ]
    assert (await totals(app)).counters.started == 2
    # A re-run skips every line, the refused one included: nothing counts twice.
    again = await run_import(
        [line.encode() for line in lines],
        import_id="x",
        store=store,
        accounts=app.services.accounts,
        received_at=RECEIVED,
    )
    assert (again.skipped, again.accepted, again.rejected) == (3, 0, [])
    assert (await totals(app)).counters.started == 2
