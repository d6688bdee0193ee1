"""The session simulator (`ingest.simulate`) stores exactly what ingest stores for the same
update: hand-worked cases, then every combination compared with the live pipeline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ingest.errors import IngestError
from ingest.items import ItemContext, session_item, sessions_item
from ingest.payloads import parse_session_aggregates, parse_session_update
from ingest.release import validate_environment
from ingest.request import read_envelope_request
from ingest.simulate import aggregate_bucket, session_update
from storage.types import (
    USER_ABNORMAL,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    ClientDimensions,
    SessionIncrement,
)
from tests.samples import RECEIVED_AT, load_samples

NOW = 1748858430.0  # 2025-06-02T10:00:30Z
STARTED = NOW - 600
SID = "7c7b6585-f901-4351-bf8d-02711b721929"
CTX = ItemContext(project_id=7, received_at=NOW)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def test_crashed_update_with_a_user():
    got = session_update(7, "app@1.0", STARTED, environment="prod", status="crashed", sid=SID, did="u1")
    assert got == SessionIncrement(
        project_id=7,
        release="app@1.0",
        environment="prod",
        started=STARTED,
        crashed=1,
        error_sid=SID,
        user="u1",
        user_tags=USER_SEEN | USER_ERRORED | USER_CRASHED,
    )


def test_abnormal_update_keeps_its_anr_mechanism():
    got = session_update(
        7, "a", STARTED, status="abnormal", sid=SID, did="u", abnormal_mechanism="anr_foreground"
    )
    assert got is not None
    assert got.abnormal == 1
    assert got.user_tags == USER_SEEN | USER_ERRORED | USER_ABNORMAL | USER_ANR_FOREGROUND


def test_an_update_that_adds_nothing_is_none():
    # A later `ok` update of an anonymous session without errors: nothing to count.
    assert session_update(7, "a", STARTED) is None


def test_exited_update_counts_its_duration_only_when_storable():
    ok = session_update(7, "a", STARTED, status="exited", duration=12.5)
    assert ok is not None and ok.duration == 12.5 and ok.error_sid is None
    # Negative durations are not recorded, so the update adds nothing at all.
    assert session_update(7, "a", STARTED, status="exited", duration=-1.0) is None


def test_errored_update_without_sid_is_refused():
    with pytest.raises(ValueError, match="needs its session id"):
        session_update(7, "a", STARTED, status="crashed")
    with pytest.raises(ValueError, match="needs its session id"):
        session_update(7, "a", STARTED, errors=2)


def test_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown session status"):
        session_update(7, "a", STARTED, status="finished", sid=SID)


def test_dimensions_are_attached():
    client = ClientDimensions(sdk_name="sentry.cocoa", os_name="iOS", os_major="iOS 17")
    got = session_update(7, "a", STARTED, init=True, dimensions=client)
    assert got is not None and got.dimensions is client
    bucket = aggregate_bucket(7, "a", STARTED, exited=1, dimensions=client)
    assert bucket is not None and bucket.dimensions is client


def test_aggregate_bucket_counts():
    # 5 exited, 2 errored, 1 crashed: 8 started, errored_preaggr counts every unhealthy end.
    got = aggregate_bucket(7, "a", STARTED, environment="prod", exited=5, errored=2, crashed=1, did="u")
    assert got == SessionIncrement(
        project_id=7,
        release="a",
        environment="prod",
        started=STARTED,
        started_count=8,
        crashed=1,
        errored_preaggr=3,
        user="u",
        user_tags=USER_SEEN | USER_ERRORED | USER_CRASHED,
    )
    assert aggregate_bucket(7, "a", STARTED) is None


STATUSES = ("ok", "exited", "errored", "crashed", "abnormal", "unhandled")


@pytest.mark.parametrize(
    ("status", "init", "errors", "did", "duration", "mechanism"),
    list(
        itertools.product(
            STATUSES, (True, False), (0, 1), (None, "u1", "x" * 300), (None, 30.0), (None, "anr_background")
        )
    ),
)
def test_same_as_the_live_pipeline(status, init, errors, did, duration, mechanism):
    payload: dict[str, Any] = {
        "sid": SID,
        "status": status,
        "init": init,
        "errors": errors,
        "started": _iso(STARTED),
        "timestamp": _iso(STARTED + 60),
        "attrs": {"release": "app@1.0", "environment": "prod"},
    }
    if did is not None:
        payload["did"] = did
    if duration is not None:
        payload["duration"] = duration
    if mechanism is not None:
        payload["abnormal_mechanism"] = mechanism
    live = session_item(orjson.dumps(payload), CTX).increments
    simulated = session_update(
        7,
        "app@1.0",
        STARTED,
        environment="prod",
        status=status,
        init=init,
        errors=errors,
        sid=SID,
        did=did,
        duration=duration,
        timestamp=STARTED + 60,
        abnormal_mechanism=mechanism,
    )
    assert live == ([] if simulated is None else [simulated])


@pytest.mark.parametrize(
    "counts",
    [
        {"exited": 3},
        {"errored": 1, "abnormal": 2},
        {"crashed": 4, "unhandled": 1, "exited": 2},
        {},
    ],
)
@pytest.mark.parametrize("did", [None, "u9"])
def test_buckets_same_as_the_live_pipeline(counts, did):
    bucket: dict[str, Any] = {"started": _iso(STARTED), **counts}
    if did is not None:
        bucket["did"] = did
    payload = {"attrs": {"release": "app@1.0", "environment": "prod"}, "aggregates": [bucket]}
    live = sessions_item(orjson.dumps(payload), CTX).increments
    simulated = aggregate_bucket(7, "app@1.0", STARTED, environment="prod", did=did, **counts)
    assert live == ([] if simulated is None else [simulated])


# -- the sample envelopes: what the simulator stores for their updates is what ingest did --

SAMPLES = load_samples()


def _simulated(payload: Any, item_type: str, ctx: ItemContext) -> list[SessionIncrement]:
    """The simulator fed the updates of one item as ingest normalized them (clock drift,
    environment removal); items or buckets ingest dropped are left out."""
    drift = ctx.clock_drift()
    if item_type == "session":
        update = parse_session_update(payload)
        environment = update.attrs.environment
        if environment is not None and not validate_environment(environment):
            environment = None
        increment = session_update(
            ctx.project_id,
            update.attrs.release,
            update.started + drift,
            environment=environment,
            status=update.status,
            init=bool(update.init),
            errors=update.errors,
            sid=update.sid,
            did=update.did,
            duration=update.duration,
            abnormal_mechanism=update.abnormal_mechanism,
            dimensions=ctx.dimensions(update.attrs),
        )
        return [] if increment is None else [increment]
    aggregates = parse_session_aggregates(payload)
    environment = aggregates.attrs.environment
    if environment is not None and not validate_environment(environment):
        environment = None
    out = []
    for b in aggregates.aggregates:
        if ctx.window_violation(b.started + drift) is not None:
            continue
        increment = aggregate_bucket(
            ctx.project_id,
            aggregates.attrs.release,
            b.started + drift,
            environment=environment,
            exited=b.exited,
            errored=b.errored,
            abnormal=b.abnormal,
            crashed=b.crashed,
            unhandled=b.unhandled,
            did=b.did,
            dimensions=ctx.dimensions(aggregates.attrs),
        )
        if increment is not None:
            out.append(increment)
    return out


def test_sample_envelopes_store_what_the_simulator_stores():
    compared = 0
    for sample in SAMPLES.values():
        try:
            request = read_envelope_request(
                project_id=sample.project_id, headers=sample.header_map, query=sample.query, body=sample.body
            )
        except IngestError:
            continue
        ctx = ItemContext(project_id=42, received_at=RECEIVED_AT, sent_at=request.envelope.sent_at)
        for item in request.envelope.items:
            if item.type not in ("session", "sessions"):
                continue
            run = session_item if item.type == "session" else sessions_item
            live = run(item.payload, ctx)
            if not any(o.kind == "accepted" for o in live.outcomes):
                continue  # dropped whole: ingest validation, not the rule
            assert _simulated(item.payload, item.type, ctx) == live.increments, sample.id
            compared += len(live.increments)
    # Every accepted update and bucket of the samples, crashed, abnormal, errored, exited,
    # aggregates and drift-corrected ones among them.
    assert compared == 24, compared


def test_sdk_name_and_user_agent_give_ingest_dimensions():
    from ingest.dimensions import client_dimensions
    from ingest.simulate import aggregate_bucket, session_update

    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
    inc = session_update(
        1, "web@1", 1000.0, init=True, sdk_name="sentry.javascript.browser", user_agent=agent
    )
    assert inc is not None and inc.dimensions is client_dimensions("sentry.javascript.browser", agent)
    assert (inc.dimensions.os_name, inc.dimensions.browser_major) == ("Windows", "Firefox 121")
    bucket = aggregate_bucket(1, "api@1", 1000.0, exited=3, sdk_name="sentry.python")
    assert bucket is not None and bucket.dimensions.sdk_name == "sentry.python"
    assert bucket.dimensions.os_name is None
