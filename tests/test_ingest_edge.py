"""Safe at the edge: the key before the body, lazy bounded framing, caps on new series."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from datetime import UTC, datetime

import pytest

from ingest.credentials import Credentials
from ingest.encoding import decoded_chunks
from ingest.envelope import Envelope, FrameLimits, frame_envelope
from ingest.errors import IngestError
from ingest.request import IngestLimits, ingest_envelope
from server.clock import FixedClock
from server.key_catalogue import KeyCatalogue
from server.settings import Settings
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.types import SessionIncrement, WriteBatch

RECEIVED = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
KEY = "e12d836b15bb49d7bbf99e64295d995b"
UNKNOWN = "0123456789abcdef0123456789abcdef"
AUTH = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
SESSION = {"init": True, "started": "2025-06-02T09:58:12Z", "status": "exited", "attrs": {"release": "r@1"}}
MIB = 1024 * 1024


def envelope(*items: tuple[str, object], header: str = "{}") -> bytes:
    lines = [header]
    for item_type, payload in items:
        lines += [
            json.dumps({"type": item_type}),
            payload if isinstance(payload, str) else json.dumps(payload),
        ]
    return ("\n".join(lines) + "\n").encode()


def session(release: str = "r@1", environment: str | None = None, **fields: object) -> dict[str, object]:
    attrs: dict[str, object] = {"release": release}
    if environment is not None:
        attrs["environment"] = environment
    return {**SESSION, "attrs": attrs, **fields}


def bomb(items: int) -> bytes:
    """The issue's envelope: `{}` then `{"type":"x"}\\n{}` repeated, gzip-compressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(b"{}\n")]
    block = b'{"type":"x"}\n{}\n' * 10_000
    for _ in range(items // 10_000):
        parts.append(compressor.compress(block))
    parts.append(compressor.flush())
    return b"".join(parts)


async def app_with(make_app, sqlite_url, **settings: object):
    app = await make_app(Settings(database_url=sqlite_url, **settings), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    return app


async def outcomes(app) -> dict[tuple[str, str, str], int]:
    rows = await app.services.store.outcome_totals()
    return {(t, k, r): n for p, t, k, r, n in rows if p == 42}


# -- 1. the key before the body ------------------------------------------------------


async def test_unknown_key_is_refused_before_the_body_is_decoded(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url)
    for body in (b"not gzip at all", gzip.compress(b"{}\n")[:-3]):
        r = await app.client.post(
            "/api/42/envelope/",
            content=body,
            headers={"X-Sentry-Auth": f"Sentry sentry_key={UNKNOWN}", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 403, r.text
        assert r.json() == {"detail": "event submission rejected with_reason: ProjectId"}
    # The same bodies with the right key are decoded, and refused as undecodable.
    r = await app.client.post(
        "/api/42/envelope/", content=b"not gzip", headers={**AUTH, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 400 and r.json() == {"detail": "failed to decompress request body"}


async def test_dsn_fallback_decodes_only_the_first_line(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url)
    header = json.dumps({"dsn": f"http://{UNKNOWN}@127.0.0.1/42"}).encode()
    # Everything after the header is a truncated gzip stream: only the first line decodes.
    body = gzip.compress(header + b"\n" + b'{"type":"x"}\n{}\n' * 1000)[:-40]
    r = await app.client.post("/api/42/envelope/", content=body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 403, r.text
    good = gzip.compress(
        envelope(("session", SESSION), header=json.dumps({"dsn": f"http://{KEY}@127.0.0.1/42"}))
    )
    r = await app.client.post("/api/42/envelope/", content=good, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text


async def test_a_flood_of_unknown_keys_does_not_query_the_database_per_request(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url)
    body = envelope(("session", SESSION))
    r = await app.client.post("/api/42/envelope/", content=body, headers=AUTH)
    assert r.status_code == 200
    before = app.services.keys.reloads
    for n in range(200):
        key = f"{n:032x}"
        r = await app.client.post(
            "/api/42/envelope/", content=body, headers={"X-Sentry-Auth": f"Sentry sentry_key={key}"}
        )
        assert r.status_code == 403
    # At most one reload per second of misses (the test runs in well under 5 s).
    assert app.services.keys.reloads - before <= 5


async def test_key_catalogue_ttl_revocation_and_creation_by_another_process(sqlite_url):
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    try:
        ours, theirs = AccountStore(engine), AccountStore(engine)  # two server processes
        _, key = await theirs.create_project("acme", "app", 42)
        now = [1000.0]
        catalogue = KeyCatalogue(ours, ttl=10, miss_refresh=1, clock=lambda: now[0])
        found = await catalogue.lookup(key)
        assert found is not None and found.project_id == 42 and found.is_active
        await theirs.set_key_active(key, False)  # revoked elsewhere
        now[0] += 5
        assert (await catalogue.lookup(key)).is_active  # within the TTL: still cached
        now[0] += 5
        assert not (await catalogue.lookup(key)).is_active  # after it: revoked
        created = await theirs.add_key(42)
        assert await catalogue.lookup(created) is None  # a miss less than 1 s after a load
        now[0] += 1
        assert (await catalogue.lookup(created)).project_id == 42
        reloads = catalogue.reloads
        for n in range(100):
            assert await catalogue.lookup(f"{n:032x}") is None
        assert catalogue.reloads == reloads  # misses within the same second: no query
        # A change made through our own AccountStore is visible at once.
        await ours.set_key_active(created, False)
        assert not (await catalogue.lookup(created)).is_active
    finally:
        await engine.dispose()


async def test_dsn_mismatch_still_answers_before_the_keys_project(make_app, sqlite_url):
    """Relay reconciles the header `dsn` before checking the key's project (400, not 403)."""
    app = await app_with(make_app, sqlite_url)
    _, other_key = await app.services.accounts.create_project("acme", "other", 43)
    body = envelope(("session", SESSION), header=json.dumps({"dsn": f"http://{other_key}@h/43"}))
    r = await app.client.post(
        "/api/42/envelope/", content=body, headers={"X-Sentry-Auth": f"Sentry sentry_key={other_key}"}
    )
    assert r.status_code == 400 and r.json()["detail"] == "invalid event envelope"
    r = await app.client.post(
        "/api/42/envelope/",
        content=envelope(("session", SESSION)),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={other_key}"},
    )
    assert r.status_code == 403


# -- 2. lazy, bounded framing -----------------------------------------------------------


def run_ingest(body: bytes, codings: list[str], **limits: int):
    return ingest_envelope(
        body,
        codings,
        project_id=42,
        credentials=Credentials(KEY, "x-sentry-auth"),
        received_at=RECEIVED,
        limits=IngestLimits(**limits),
    )


def test_item_cap_stops_decoding_early_and_holds_nothing():
    body = bomb(6_400_000)
    assert len(body) < 400 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as error:
            run_ingest(body, ["gzip"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.value.status == 413
    assert error.value.detail.startswith("envelope exceeded size limits")
    assert peak < 2 * MIB


def test_item_cap_counts_every_item_type():
    at_cap = envelope(*[("x", {})] * 999, ("session", SESSION))
    assert len(run_ingest(at_cap, [], max_items=1000).items) == 1
    with pytest.raises(IngestError) as error:
        run_ingest(envelope(*[("x", {})] * 1001), [], max_items=1000)
    assert error.value.status == 413


def test_bucket_cap_per_sessions_item():
    def aggregates(n: int) -> dict[str, object]:
        return {
            "attrs": {"release": "r@1"},
            "aggregates": [{"started": "2025-06-02T09:58:00Z", "exited": 1}] * n,
        }

    ingested = run_ingest(envelope(("sessions", aggregates(100))), [], max_buckets=100)
    assert [o.quantity for o in ingested.items[0].outcomes] == [100]
    with pytest.raises(IngestError) as error:
        run_ingest(envelope(("sessions", aggregates(101))), [], max_buckets=100)
    assert error.value.status == 413
    assert "for type 'sessions'" in error.value.detail


def test_big_legal_envelope_stops_at_the_first_oversized_item():
    """The issue's 100 x 11,000-bucket envelope: refused after one item, not 1.1M buckets."""
    bucket = {"started": "2025-06-02T09:58:00Z", "did": "u", "exited": 1, "errored": 1}
    item = json.dumps({"attrs": {"release": "r@1"}, "aggregates": [bucket] * 11_000})
    assert len(item) < MIB
    body = gzip.compress(envelope(*[("sessions", item)] * 100))
    consumed = []

    def counting(chunks):
        for chunk in chunks:
            consumed.append(len(chunk))
            yield chunk

    frames = frame_envelope(counting(decoded_chunks(body, ["gzip"], max_size=100 * MIB)), FrameLimits())
    assert isinstance(next(frames), Envelope)
    next(frames)  # the first item only
    assert sum(consumed) < 2 * MIB  # not the ~75 MiB of the whole envelope
    with pytest.raises(IngestError) as error:
        run_ingest(body, ["gzip"])
    assert error.value.status == 413


def test_skipped_payloads_are_never_held():
    """A 60 MiB attachment is passed over by its length, decoded but not kept."""
    attachment = b"\0" * (60 * MIB)
    body = b'{}\n{"type":"attachment","length":%d}\n' % len(attachment) + attachment + b"\n"
    body += envelope(("session", SESSION))[3:]
    compressed = gzip.compress(body, compresslevel=1)
    del attachment, body
    tracemalloc.start()
    try:
        ingested = run_ingest(compressed, ["gzip"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(ingested.items) == 1
    assert peak < 4 * MIB


def test_header_lines_are_bounded():
    huge = json.dumps({"trace": {"x": "y" * (70 * 1024)}})
    with pytest.raises(IngestError) as error:
        run_ingest(envelope(("session", SESSION), header=huge), [])
    assert error.value.status == 413


async def test_caps_over_http(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url, max_envelope_items=10, max_session_buckets=2)
    r = await app.client.post("/api/42/envelope/", content=envelope(*[("x", {})] * 11), headers=AUTH)
    assert r.status_code == 413
    agg = {"attrs": {"release": "r@1"}, "aggregates": [{"started": "2025-06-02T09:58:00Z", "exited": 1}] * 3}
    r = await app.client.post("/api/42/envelope/", content=envelope(("sessions", agg)), headers=AUTH)
    assert r.status_code == 413 and r.json()["detail"].startswith(
        "envelope exceeded size limits for type 'sessions'"
    )
    assert await outcomes(app) == {}


# -- 3. new releases and environments per hour ------------------------------------------


async def send(app, *sessions: dict[str, object]) -> int:
    r = await app.client.post(
        "/api/42/envelope/", content=envelope(*[("session", s) for s in sessions]), headers=AUTH
    )
    return r.status_code


async def test_new_releases_per_hour_are_capped(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url, new_releases_per_hour=2)
    assert await send(app, session("a@1"), session("b@1"), session("c@1")) == 200
    assert await send(app, session("d@1"), session("a@1")) == 200  # a@1 is known: accepted
    assert await outcomes(app) == {
        ("session", "accepted", ""): 3,
        ("session", "dropped", "too_many_releases"): 2,
    }
    series = await app.services.store.series([42])
    assert sorted(s.release for s in series) == ["a@1", "b@1"]
    metrics = (await app.client.get("/metrics")).text
    assert 'relhealth_ingest_items_dropped_total{item_type="session",reason="too_many_releases"} 2' in metrics
    # The next clock hour admits new releases again.
    app.services.clock.at += 3600
    fresh = {"started": "2025-06-02T10:58:12Z"}
    assert await send(app, session("c@1", **fresh)) == 200
    assert ("session", "accepted", "") in await outcomes(app)
    assert "c@1" in {s.release for s in await app.services.store.series([42])}


async def test_new_environments_per_hour_are_capped(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url, new_environments_per_hour=1)
    assert (
        await send(
            app, session("a@1", "prod"), session("a@1", "stage"), session("b@1", "prod"), session("b@1")
        )
        == 200
    )
    assert await outcomes(app) == {
        ("session", "accepted", ""): 3,
        ("session", "dropped", "too_many_environments"): 1,
    }
    assert {s.environment for s in await app.services.store.series([42])} == {"prod", None}


async def test_known_releases_come_from_the_database_not_the_process(make_app, sqlite_url):
    """A release another process (or an import) created is not new here."""
    app = await app_with(make_app, sqlite_url, new_releases_per_hour=0, new_environments_per_hour=0)
    other = WriteBatch(increments=[SessionIncrement(42, "old@1", "prod", RECEIVED - 60, started_count=1)])
    await app.services.store.apply([other])
    assert await send(app, session("old@1", "prod"), session("new@1", "prod"), session("old@1", "qa")) == 200
    assert await outcomes(app) == {
        ("session", "accepted", ""): 1,
        ("session", "dropped", "too_many_releases"): 1,
        ("session", "dropped", "too_many_environments"): 1,
    }


async def test_caps_can_be_disabled(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url, new_releases_per_hour=None, new_environments_per_hour=None)
    assert await send(app, *[session(f"r@{n}", f"e{n}") for n in range(50)]) == 200
    assert await outcomes(app) == {("session", "accepted", ""): 50}


def test_an_undecodable_inner_coding_is_400_not_500():
    """Found by the fuzz test: `deflate` over a broken `zstd` stage raised outside the
    decoder's error translation."""
    with pytest.raises(IngestError) as error:
        run_ingest(b"\x28\xb5\x2f\xfd garbage", ["deflate", "zstd"])
    assert (error.value.status, error.value.detail) == (400, "failed to decompress request body")


def test_caps_turn_off_from_the_environment(monkeypatch):
    monkeypatch.setenv("RELHEALTH_NEW_RELEASES_PER_HOUR", "off")
    monkeypatch.setenv("RELHEALTH_NEW_ENVIRONMENTS_PER_HOUR", "5")
    settings = Settings()
    assert (settings.new_releases_per_hour, settings.new_environments_per_hour) == (None, 5)
    assert (Settings(new_releases_per_hour=None).new_releases_per_hour, Settings().max_envelope_items) == (
        None,
        1000,
    )


async def test_bodies_held_at_once_are_bounded(make_app, sqlite_url):
    app = await app_with(make_app, sqlite_url, ingest_body_budget=2000)
    small = envelope(("session", SESSION))
    assert 2 * len(small) <= 2000
    r = await app.client.post("/api/42/envelope/", content=small, headers=AUTH)
    assert r.status_code == 200
    big = envelope(*[("session", SESSION)] * 10)
    assert 2 * len(big) > 2000
    r = await app.client.post("/api/42/envelope/", content=big, headers=AUTH)
    assert r.status_code == 503 and r.json() == {"detail": "failed to queue envelope"}
    assert app.services.body_budget.used == 0  # every byte given back, refused or not
    r = await app.client.post("/api/42/envelope/", content=small, headers=AUTH)
    assert r.status_code == 200
