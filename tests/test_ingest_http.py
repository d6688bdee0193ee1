"""Every sample of shared/samples/envelopes.txt replayed over HTTP against a fresh store:
the response and the stored quantities the sample states (worked out from its text)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime

import brotli
import pytest
import zstandard

from server.clock import FixedClock
from server.settings import Settings
from storage.types import MINUTE, AggregateQuery, Quantity
from tests.samples import load_samples

RECEIVED = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
KEY = "e12d836b15bb49d7bbf99e64295d995b"
SAMPLES = load_samples()

# (release, environment, minute) -> non-zero quantities of that minute bucket.
# Quantity names: started crashed abnormal unhandled preaggr errset users u_errored
# u_crashed u_abnormal u_unhandled anr anr_fg dur_count dur_sum
STORED: dict[str, dict[tuple[str, str | None, str], dict[str, float]]] = {
    "S01": {("myapp@1.4.2", "production", "2025-06-02T09:58"): {"started": 1, "users": 1}},
    "S02": {
        ("myapp@1.4.2", "production", "2025-06-02T09:58"): {"users": 1, "dur_count": 1, "dur_sum": 135.65}
    },
    "S03": {
        ("myapp@1.4.2", "production", "2025-06-02T09:40"): {
            "crashed": 1,
            "errset": 1,
            "users": 1,
            "u_errored": 1,
            "u_crashed": 1,
        }
    },
    "S04": {
        ("io.example.app@3.2.0+450", "production", "2025-06-01T22:10"): {
            "abnormal": 1,
            "errset": 1,
            "users": 1,
            "u_errored": 1,
            "u_abnormal": 1,
            "anr": 1,
            "anr_fg": 1,
        }
    },
    "S05": {
        ("fun-release", "not-fun-env", "2025-06-02T09:30"): {
            "started": 1,
            "errset": 1,
            "users": 1,
            "u_errored": 1,
        }
    },
    "S06": {("web@2025.6.1", "staging", "2025-06-02T08:00"): {"errset": 1, "users": 1, "u_errored": 1}},
    "S07": {
        ("api@5.0.1", "production", "2025-06-02T09:57"): {"started": 121, "preaggr": 3},
        ("api@5.0.1", "production", "2025-06-02T09:58"): {"started": 100, "preaggr": 3, "crashed": 2},
        # 131 + 5 started; 1 + 1 errored_preaggr; the tenant-7 bucket's user entries.
        ("api@5.0.1", "production", "2025-06-02T09:59"): {
            "started": 136,
            "preaggr": 2,
            "abnormal": 1,
            "crashed": 1,
            "users": 1,
            "u_errored": 1,
            "u_crashed": 1,
        },
    },
    "S08": {
        ("cli@0.9.0", None, "2025-06-02T10:00"): {"started": 1},
        ("cli@0.9.0", None, "2025-06-02T09:59"): {"started": 1, "dur_count": 1, "dur_sum": 30.0},
    },
    "S09": {
        ("fun-release", "not-fun-env", "2025-06-02T09:59"): {"started": 3, "preaggr": 1},
        ("fun-release", "not-fun-env", "2025-06-02T10:00"): {"started": 1, "preaggr": 1, "crashed": 1},
    },
    "S10": {
        ("app@2.0.0+31", "production", "2025-06-02T09:50"): {
            "started": 1,
            "unhandled": 1,
            "errset": 1,
            "users": 1,
            "u_errored": 1,
            "u_unhandled": 1,
        },
        ("app@2.0.0+31", "production", "2025-06-02T09:55"): {"started": 12, "preaggr": 2, "unhandled": 2},
    },
    "S11": {("api@5.0.2", "production", "2025-06-02T10:00"): {"started": 6, "preaggr": 1}},
    # Clock drift -2:59:59 moves started 12:59:00 to 09:59:01.
    "M06": {("myapp@1.4.2", None, "2025-06-02T09:59"): {"started": 1}},
    "M10": {("myapp@1.4.2", None, "2025-06-02T09:58"): {"started": 3}},
    "M16": {("api@5.0.1", "production", "2025-06-02T09:58"): {"started": 8, "preaggr": 1}},
}

# (item_type, kind, reason) -> count, as ingest.md 15.1 and each sample's "Ingest counters".
OUTCOMES: dict[str, dict[tuple[str, str, str], int]] = {
    "S01": {("session", "accepted", ""): 1},
    "S02": {("session", "accepted", ""): 1},
    "S03": {("session", "accepted", ""): 1},
    "S04": {("session", "accepted", ""): 1},
    "S05": {("session", "accepted", ""): 1},
    "S06": {("session", "accepted", ""): 1},
    "S07": {("sessions", "accepted", ""): 4},
    "S08": {("session", "accepted", ""): 2},
    "S09": {("sessions", "accepted", ""): 2},
    "S10": {("session", "accepted", ""): 1, ("sessions", "accepted", ""): 1},
    "S11": {("sessions", "accepted", ""): 1},
    "M01": {("session", "dropped", "invalid_payload"): 1},
    "M02": {("session", "dropped", "invalid_payload"): 1},
    "M05": {("session", "dropped", "in_future"): 1},
    "M06": {("session", "accepted", ""): 1, ("session", "normalized", "clock_drift_corrected"): 1},
    "M07": {("session", "dropped", "too_old"): 1},
    "M10": {("session", "accepted", ""): 3},
    "M12": {("session", "dropped", "invalid_payload"): 1},
    "M13": {("session", "dropped", "unknown_status"): 1},
    "M16": {("sessions", "accepted", ""): 1, ("sessions", "dropped", "too_old"): 1},
    "M18": {("session", "dropped", "invalid_release"): 1},
}

# M11 describes a server with a session quota configured; relhealth runs without quotas
# by default, so the same envelope is accepted (checked separately below).
REPLAYED = sorted(s for s in SAMPLES if s != "M11")


async def _app(make_app, url):
    app = await make_app(Settings(database_url=url), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    return app


async def _send(app, sample):
    headers = {k: v for k, v in sample.headers if k.lower() not in ("host", "content-length")}
    url = sample.path + (f"?{sample.query}" if sample.query else "")
    return await app.client.request(sample.method, url, content=sample.body, headers=headers)


async def _stored(app) -> dict[tuple[str, str | None, str], dict[str, float]]:
    result = await app.services.store.aggregate(
        AggregateQuery(
            project_ids=(42,),
            start=0,
            end=2_000_000_000,
            granularity=MINUTE,
            quantities=frozenset(Quantity),
            group_by=("release", "environment"),
            interval=MINUTE,
        )
    )
    found: dict[tuple[str, str | None, str], dict[str, float]] = {}
    for group, buckets in result.series.items():
        for bucket, a in buckets.items():
            minute = datetime.fromtimestamp(bucket, UTC).strftime("%Y-%m-%dT%H:%M")
            values = {
                "started": a.counters.started,
                "crashed": a.counters.crashed,
                "abnormal": a.counters.abnormal,
                "unhandled": a.counters.unhandled,
                "preaggr": a.counters.errored_preaggr,
                "errset": a.errored_set,
                "users": a.users.all,
                "u_errored": a.users.errored,
                "u_crashed": a.users.crashed,
                "u_abnormal": a.users.abnormal,
                "u_unhandled": a.users.unhandled,
                "anr": a.users.anr,
                "anr_fg": a.users.anr_foreground,
                "dur_count": a.durations.count,
                "dur_sum": a.durations.sum,
            }
            found[(group.release, group.environment, minute)] = {k: v for k, v in values.items() if v}
    return found


async def _outcomes(app) -> dict[tuple[str, str, str], int]:
    rows = await app.services.store.outcome_totals()
    return {(t, k, r): n for p, t, k, r, n in rows if p == 42}


@pytest.mark.parametrize("sample_id", REPLAYED)
async def test_sample(make_app, sqlite_url, sample_id):
    sample = SAMPLES[sample_id]
    app = await _app(make_app, sqlite_url)
    response = await _send(app, sample)
    assert response.status_code == sample.response.status, response.text
    body = response.json()
    if sample.response.status == 200:
        assert body == sample.response.body
    else:
        assert body["detail"] == sample.response.body["detail"]
    assert response.headers["content-type"].startswith("application/json")
    assert await _stored(app) == STORED.get(sample_id, {})
    assert await _outcomes(app) == OUTCOMES.get(sample_id, {})


async def test_every_sample_is_covered():
    assert set(SAMPLES) == set(REPLAYED) | {"M11"}
    assert len(SAMPLES) == 34


async def test_m11_without_quotas_is_accepted(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)
    response = await _send(app, SAMPLES["M11"])
    assert response.status_code == 200
    assert await _outcomes(app) == {("session", "accepted", ""): 1}


async def test_samples_on_postgres_accumulate(make_app, database_url):
    """The accepted samples applied one after another to one store (both backends):
    S01 + S02 is one healthy session with a duration (release-health.md 2.3)."""
    app = await _app(make_app, database_url)
    for sample_id in ("S01", "S02", "S07"):
        assert (await _send(app, SAMPLES[sample_id])).status_code == 200
    stored = await _stored(app)
    assert stored[("myapp@1.4.2", "production", "2025-06-02T09:58")] == {
        "started": 1,
        "users": 1,
        "dur_count": 1,
        "dur_sum": 135.65,
    }
    assert stored[("api@5.0.1", "production", "2025-06-02T09:57")] == {"started": 121, "preaggr": 3}


_S11 = SAMPLES["S11"]


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("identity", lambda b: b),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
async def test_compressed_bodies(make_app, sqlite_url, encoding, encode):
    app = await _app(make_app, sqlite_url)
    assert _S11.decoded_body is not None
    r = await app.client.post(
        "/api/42/envelope/",
        content=encode(_S11.decoded_body),
        headers={"Content-Encoding": encoding, "X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=7"},
    )
    assert r.status_code == 200, r.text
    assert await _stored(app) == STORED["S11"]


async def test_undecodable_body_is_400(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)
    r = await app.client.post(
        "/api/42/envelope/",
        content=b"not gzip at all",
        headers={"Content-Encoding": "gzip", "X-Sentry-Auth": f"Sentry sentry_key={KEY}"},
    )
    assert r.status_code == 400
    assert r.json()["detail"] == "failed to decompress request body"


def _envelope(*items: str, header: str = "{}") -> bytes:
    return ("\n".join([header, *items]) + "\n").encode()


_SESSION = '{"type":"session"}\n{"init":true,"started":"2025-06-02T09:58:12Z","status":"exited","attrs":{"release":"r@1"}}'


@pytest.mark.parametrize("path", ["/api/42/envelope", "/api//42//envelope//", "/api/42/envelope/"])
async def test_paths_with_and_without_trailing_slash(make_app, sqlite_url, path):
    app = await _app(make_app, sqlite_url)
    r = await app.client.post(
        path, content=_envelope(_SESSION), headers={"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
    )
    assert r.status_code == 200, r.text
    assert await _outcomes(app) == {("session", "accepted", ""): 1}


async def test_bad_project_path_and_cors(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)
    r = await app.client.post(
        "/api/abc/envelope/",
        content=_envelope(_SESSION),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={KEY}"},
    )
    assert r.status_code == 400 and r.json() == {"detail": "bad project path parameter"}
    r = await app.client.options(
        "/api/42/envelope/",
        headers={"Origin": "https://web.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 200
    assert "x-sentry-auth" in r.headers["access-control-allow-headers"]
    assert "retry-after" in r.headers["access-control-expose-headers"]


async def test_authentication_outcomes(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)
    other, other_key = await app.services.accounts.create_project("acme", "other", 43)
    body = _envelope(_SESSION)
    basic = base64.b64encode(f"{KEY}:".encode()).decode()
    cases = [
        ({"Authorization": f"Basic {basic}"}, 200, None),
        ({"Authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}, 200, None),
        (
            {"X-Sentry-Auth": f"Sentry sentry_key={KEY}, sentry_version=8"},
            400,
            "unsupported protocol version (8)",
        ),
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, 401, "bad x-sentry-auth header"),
        (
            {"X-Sentry-Auth": f"Sentry sentry_key={other_key}"},
            403,
            "event submission rejected with_reason: ProjectId",
        ),
        (
            {"X-Sentry-Auth": f"Sentry sentry_key={KEY}", "Authorization": f"Basic {basic}"},
            401,
            "multiple authorization payloads detected",
        ),
    ]
    for headers, status, detail in cases:
        r = await app.client.post("/api/42/envelope/", content=body, headers=headers)
        assert r.status_code == status, (headers, r.text)
        if detail:
            assert r.json()["detail"] == detail
    await app.services.accounts.set_key_active(KEY, False)
    r = await app.client.post(
        "/api/42/envelope/", content=body, headers={"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
    )
    assert r.status_code == 403
    mismatched = _envelope(_SESSION, header=json.dumps({"dsn": f"http://{other_key}@h/43"}))
    r = await app.client.post(
        "/api/42/envelope/", content=mismatched, headers={"X-Sentry-Auth": f"Sentry sentry_key={other_key}"}
    )
    assert r.status_code == 400 and r.json()["detail"] == "invalid event envelope"


async def test_size_limits(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url, max_body_size=2000), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
    r = await app.client.post("/api/42/envelope/", content=_envelope(*[_SESSION] * 101), headers=auth)
    assert r.status_code == 413
    r = await app.client.post("/api/42/envelope/", content=_envelope(*[_SESSION] * 20), headers=auth)
    assert r.status_code == 413
    assert r.json()["detail"].startswith("envelope exceeded size limits")
    assert await _outcomes(app) == {}


async def test_drops_are_visible_in_metrics_and_graphql(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url, metrics_token="scrape"), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    for sample_id in ("M01", "M05", "M07", "S07", "M16"):
        await _send(app, SAMPLES[sample_id])
    metrics = (await app.client.get("/metrics", headers={"Authorization": "Bearer scrape"})).text
    assert (
        'relhealth_ingest_items_dropped_total{project_id="42",item_type="session",reason="too_old"} 1'
        in metrics
    )
    assert (
        'relhealth_ingest_items_dropped_total{project_id="42",item_type="sessions",reason="too_old"} 1'
        in metrics
    )
    assert 'relhealth_ingest_items_accepted_total{project_id="42",item_type="sessions"} 5' in metrics
    token = await app.services.accounts.create_token("acme", ["org:read"])
    r = await app.client.post(
        "/graphql/v1",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": '{ project(id: "42") { ingestOutcomes { itemType kind reason count } } }'},
    )
    outcomes = r.json()["data"]["project"]["ingestOutcomes"]
    assert {"itemType": "session", "kind": "dropped", "reason": "invalid_payload", "count": 1} in outcomes
    assert {"itemType": "session", "kind": "dropped", "reason": "in_future", "count": 1} in outcomes
    assert {"itemType": "sessions", "kind": "accepted", "reason": "", "count": 5} in outcomes


async def test_m11_session_quota_answers_429(make_app, sqlite_url):
    """With a quota of 2 session units per minute, the third item is rate limited (M11)."""
    app = await make_app(Settings(database_url=sqlite_url, session_quota=2), FixedClock(RECEIVED))
    await app.services.accounts.create_project("acme", "app", 42)
    await app.services.accounts.add_key(42, KEY)
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={KEY}"}
    r = await app.client.post("/api/42/envelope/", content=_envelope(_SESSION, _SESSION), headers=auth)
    assert r.status_code == 200
    expected = SAMPLES["M11"].response
    r = await _send(app, SAMPLES["M11"])
    assert r.status_code == 429 == expected.status
    assert r.json() == expected.body
    # The fixed minute window ends at 10:01:00, 30 s after the receive time.
    assert r.headers["retry-after"] == "30"
    assert r.headers["x-sentry-rate-limits"] == "30:session:project"
    assert await _outcomes(app) == {("session", "accepted", ""): 2, ("session", "dropped", "rate_limited"): 1}
