"""The per-item pipeline (`ingest.md` 10, 15) and stored quantities (`release-health.md` 2)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ingest.envelope import parse_envelope
from ingest.items import ItemContext, envelope_batch, session_item, sessions_item
from storage.types import (
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    OutcomeIncrement,
    SessionIncrement,
    WriteBatch,
)

NOW = 1748858430.0  # 2025-06-02T10:00:30Z
MINUTE, HOUR, DAY = 60, 3600, 86400
SID = "7c7b6585-f901-4351-bf8d-02711b721929"
LIVE = ItemContext(project_id=42, received_at=NOW)
IMPORT = ItemContext(project_id=42, received_at=NOW, live=False)


def iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def session(**fields: Any) -> bytes:
    payload: dict[str, Any] = {
        "sid": SID,
        "started": iso(NOW - 10 * MINUTE),
        "attrs": {"release": "r@1", "environment": "prod"},
    }
    payload.update(fields)
    return orjson.dumps({k: v for k, v in payload.items() if v is not ...})


def sessions(*buckets: dict[str, Any], **attrs: Any) -> bytes:
    return orjson.dumps(
        {"attrs": {"release": "r@1", "environment": "prod", **attrs}, "aggregates": list(buckets)}
    )


def outcomes(batch: WriteBatch) -> set[tuple[str, str, str, int]]:
    return {(o.item_type, o.kind, o.reason, o.quantity) for o in batch.outcomes}


def only(batch: WriteBatch) -> SessionIncrement:
    (increment,) = batch.increments
    return increment


def drift_ctx(drift: float) -> ItemContext:
    return ItemContext(project_id=42, received_at=NOW, sent_at=NOW - drift)


# -- clock drift -------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1, -1])
def test_drift_of_exactly_55_minutes_is_corrected(sign: int) -> None:
    drift = sign * 55 * MINUTE
    started = NOW - 10 * MINUTE - drift
    batch = session_item(session(init=True, started=iso(started)), drift_ctx(drift))
    assert only(batch).started == started + drift
    assert outcomes(batch) == {
        ("session", "accepted", "", 1),
        ("session", "normalized", "clock_drift_corrected", 1),
    }


@pytest.mark.parametrize("sign", [1, -1])
def test_drift_just_below_55_minutes_is_left_alone(sign: int) -> None:
    drift = sign * (55 * MINUTE - 0.5)
    started = NOW - 10 * MINUTE
    batch = session_item(session(init=True, started=iso(started)), drift_ctx(drift))
    assert only(batch).started == started
    assert outcomes(batch) == {("session", "accepted", "", 1)}


def test_drift_needs_sent_at_and_live_ingestion() -> None:
    started = NOW + 3 * HOUR
    payload = session(init=True, started=iso(started), timestamp=iso(started + 20))
    assert outcomes(session_item(payload, LIVE)) == {("session", "dropped", "in_future", 1)}
    imported = ItemContext(project_id=42, received_at=NOW, sent_at=NOW + 3 * HOUR, live=False)
    assert only(session_item(payload, imported)).started == started  # no correction on import
    corrected = session_item(payload, drift_ctx(-3 * HOUR))
    assert only(corrected).started == NOW


def test_drift_moves_every_bucket() -> None:
    batch = sessions_item(
        sessions(
            {"started": iso(NOW + 2 * HOUR), "exited": 1},
            {"started": iso(NOW + 2 * HOUR - 5 * MINUTE), "exited": 2},
        ),
        drift_ctx(-2 * HOUR),
    )
    assert [i.started for i in batch.increments] == [NOW, NOW - 5 * MINUTE]
    assert outcomes(batch) == {
        ("sessions", "accepted", "", 2),
        ("sessions", "normalized", "clock_drift_corrected", 2),
    }


# -- timestamp and the time window -----------------------------------------------------


def test_timestamp_is_raised_to_started_and_counted_when_accepted() -> None:
    started = NOW - MINUTE
    batch = session_item(session(init=True, started=iso(started), timestamp=iso(started - HOUR)), LIVE)
    assert only(batch).started == started
    assert ("session", "normalized", "timestamp_raised_to_started", 1) in outcomes(batch)
    # A default timestamp is the receive time: nothing to raise for a past start.
    assert outcomes(session_item(session(init=True), LIVE)) == {("session", "accepted", "", 1)}


def test_normalizations_of_a_dropped_item_are_not_counted() -> None:
    payload = session(
        started=iso(NOW - 7 * DAY),
        timestamp=iso(NOW - 8 * DAY),
        attrs={"release": "r", "environment": "none"},
    )
    assert outcomes(session_item(payload, LIVE)) == {("session", "dropped", "too_old", 1)}


@pytest.mark.parametrize(
    ("started", "reason"),
    [
        (NOW - 5 * DAY, None),
        (NOW - 5 * DAY - 0.001, "too_old"),
        (NOW + 60, None),
        (NOW + 60.001, "in_future"),
    ],
)
def test_window_boundaries(started: float, reason: str | None) -> None:
    for batch in (
        session_item(session(init=True, started=iso(started)), LIVE),
        session_item(session(init=True, started=iso(started), timestamp=iso(started)), LIVE),
    ):
        expected = ("session", "accepted", "", 1) if reason is None else ("session", "dropped", reason, 1)
        assert expected in outcomes(batch)
    bucket = sessions_item(sessions({"started": iso(started), "exited": 1}), LIVE)
    expected = ("sessions", "accepted", "", 1) if reason is None else ("sessions", "dropped", reason, 1)
    assert outcomes(bucket) == {expected}


def test_timestamp_is_checked_before_started() -> None:
    payload = session(started=iso(NOW - 6 * DAY), timestamp=iso(NOW + HOUR))
    assert outcomes(session_item(payload, LIVE)) == {("session", "dropped", "in_future", 1)}
    late = session(started=iso(NOW - 6 * DAY), timestamp=iso(NOW))
    assert outcomes(session_item(late, LIVE)) == {("session", "dropped", "too_old", 1)}


def test_import_has_no_window() -> None:
    for started in (NOW - 400 * DAY, NOW + DAY):
        assert only(session_item(session(init=True, started=iso(started)), IMPORT)).started == started
        assert only(sessions_item(sessions({"started": iso(started), "exited": 1}), IMPORT))


def test_buckets_are_dropped_one_by_one() -> None:
    batch = sessions_item(
        sessions(
            {"started": iso(NOW - 6 * DAY), "exited": 1},
            {"started": iso(NOW - 7 * DAY), "exited": 1},
            {"started": iso(NOW + HOUR), "exited": 1},
            {"started": iso(NOW - MINUTE), "exited": 3},
        ),
        LIVE,
    )
    assert only(batch).started_count == 3
    assert outcomes(batch) == {
        ("sessions", "dropped", "too_old", 2),
        ("sessions", "dropped", "in_future", 1),
        ("sessions", "accepted", "", 1),
    }


# -- attributes and status -------------------------------------------------------------


def test_invalid_release_drops() -> None:
    payload = session(init=True, attrs={"release": "latest"})
    assert outcomes(session_item(payload, LIVE)) == {("session", "dropped", "invalid_release", 1)}
    batch = sessions_item(
        sessions(
            {"started": iso(NOW - MINUTE), "exited": 1},
            {"started": iso(NOW - 6 * DAY), "exited": 1},
            {"started": iso(NOW - 2 * MINUTE), "exited": 1},
            release="a/b",
        ),
        LIVE,
    )
    assert batch.increments == []
    assert outcomes(batch) == {
        ("sessions", "dropped", "too_old", 1),
        ("sessions", "dropped", "invalid_release", 2),
    }


def test_invalid_environment_is_removed() -> None:
    batch = session_item(session(init=True, attrs={"release": "r", "environment": ".."}), LIVE)
    assert only(batch).environment is None
    assert outcomes(batch) == {
        ("session", "accepted", "", 1),
        ("session", "normalized", "environment_removed", 1),
    }
    buckets = sessions_item(
        sessions(
            {"started": iso(NOW), "exited": 1}, {"started": iso(NOW), "crashed": 1}, environment="x" * 65
        ),
        LIVE,
    )
    assert {i.environment for i in buckets.increments} == {None}
    assert ("sessions", "normalized", "environment_removed", 2) in outcomes(buckets)
    empty = session_item(session(init=True, attrs={"release": "", "environment": ""}), LIVE)
    assert (only(empty).release, only(empty).environment) == ("", "")


@pytest.mark.parametrize("status", ["paused", "OK", "", "terminated"])
def test_unknown_status_drops_the_item(status: str) -> None:
    batch = session_item(session(init=True, status=status), LIVE)
    assert outcomes(batch) == {("session", "dropped", "unknown_status", 1)}


def test_invalid_payloads_count_once() -> None:
    assert outcomes(session_item(b"{", LIVE)) == {("session", "dropped", "invalid_payload", 1)}
    assert outcomes(sessions_item(b'{"attrs":{"release":"r"},"aggregates":[{"exited":1}]}', LIVE)) == {
        ("sessions", "dropped", "invalid_payload", 1)
    }


# -- quantities of one update (release-health.md 2.3) ----------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"init": True, "did": "u1"}, {"started_count": 1, "user": "u1", "user_tags": USER_SEEN}),
        (
            {"status": "exited", "did": "u1", "duration": 135.6},
            {"user": "u1", "user_tags": USER_SEEN, "duration": 135.6},
        ),
        (
            {"init": True, "status": "exited", "errors": 2, "did": "42"},
            {"started_count": 1, "error_sid": SID, "user": "42", "user_tags": USER_SEEN | USER_ERRORED},
        ),
        ({"errors": 3, "did": "u9"}, {"error_sid": SID, "user": "u9", "user_tags": USER_SEEN | USER_ERRORED}),
        ({"status": "errored"}, {"error_sid": SID}),
        (
            {"status": "crashed", "errors": 1, "did": "u7"},
            {
                "crashed": 1,
                "error_sid": SID,
                "user": "u7",
                "user_tags": USER_SEEN | USER_ERRORED | USER_CRASHED,
            },
        ),
        (
            {"status": "abnormal", "abnormal_mechanism": "anr_foreground", "did": "d"},
            {
                "abnormal": 1,
                "error_sid": SID,
                "user": "d",
                "user_tags": USER_SEEN | USER_ERRORED | USER_ABNORMAL | USER_ANR_FOREGROUND,
            },
        ),
        (
            {"status": "abnormal", "abnormal_mechanism": "anr_background", "did": "d"},
            {
                "abnormal": 1,
                "error_sid": SID,
                "user": "d",
                "user_tags": USER_SEEN | USER_ERRORED | USER_ABNORMAL | USER_ANR_BACKGROUND,
            },
        ),
        (
            {"status": "abnormal", "abnormal_mechanism": "watchdog", "did": "d"},
            {
                "abnormal": 1,
                "error_sid": SID,
                "user": "d",
                "user_tags": USER_SEEN | USER_ERRORED | USER_ABNORMAL,
            },
        ),
        (
            {"status": "crashed", "abnormal_mechanism": "anr_foreground", "did": "d"},
            {
                "crashed": 1,
                "error_sid": SID,
                "user": "d",
                "user_tags": USER_SEEN | USER_ERRORED | USER_CRASHED,
            },
        ),
        (
            {"init": True, "status": "unhandled", "errors": 1, "did": "u5"},
            {
                "started_count": 1,
                "unhandled": 1,
                "error_sid": SID,
                "user": "u5",
                "user_tags": USER_SEEN | USER_ERRORED | USER_UNHANDLED,
            },
        ),
        (
            {"init": True, "status": "crashed", "did": "00000000-0000-0000-0000-000000000000"},
            {"started_count": 1, "crashed": 1, "error_sid": SID},
        ),
        ({"init": True, "did": "0" * 32}, {"started_count": 1}),
        ({"init": True, "did": ""}, {"started_count": 1, "user": "", "user_tags": USER_SEEN}),
        ({"init": True, "did": None}, {"started_count": 1}),
        ({"status": "exited", "duration": 0}, {"duration": 0.0}),
    ],
)
def test_update_quantities(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    batch = session_item(session(**fields), LIVE)
    assert batch.increments == [
        SessionIncrement(
            project_id=42, release="r@1", environment="prod", started=NOW - 10 * MINUTE, **expected
        )
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "ok", "duration": 5.0},
        {"status": "crashed", "duration": 5.0},
        {"status": "exited", "duration": -1.0},
        {"status": "exited", "duration": None},
    ],
)
def test_durations_only_for_exited_and_non_negative(fields: dict[str, Any]) -> None:
    batch = session_item(session(init=True, **fields), LIVE)
    assert only(batch).duration is None


def test_an_update_that_adds_nothing_is_still_accepted() -> None:
    batch = session_item(session(init=False, status="ok"), LIVE)
    assert batch.increments == []
    assert outcomes(batch) == {("session", "accepted", "", 1)}


def test_import_seq_zero_without_init_is_the_initial_update() -> None:
    assert only(session_item(session(seq=0), IMPORT)).started_count == 1
    assert session_item(session(seq=0, init=False), IMPORT).increments == []
    assert session_item(session(seq=1), IMPORT).increments == []
    assert session_item(session(seq=0), LIVE).increments == []


# -- quantities of one bucket (release-health.md 2.4) ----------------------------------


def bucket(**counts: Any) -> SessionIncrement | None:
    batch = sessions_item(sessions({"started": iso(NOW - MINUTE), **counts}), LIVE)
    assert outcomes(batch) == {("sessions", "accepted", "", 1)}
    return batch.increments[0] if batch.increments else None


def test_bucket_quantities() -> None:
    def expect(**fields: Any) -> SessionIncrement:
        return SessionIncrement(
            project_id=42, release="r@1", environment="prod", started=NOW - MINUTE, **fields
        )

    assert bucket(exited=123, abnormal=5, crashed=7) == expect(
        started_count=135, errored_preaggr=12, abnormal=5, crashed=7
    )
    assert bucket(exited=12, errored=3) == expect(started_count=15, errored_preaggr=3)
    assert bucket(did="u", exited=2) == expect(started_count=2, user="u", user_tags=USER_SEEN)
    assert bucket(did="u") == expect(user="u", user_tags=USER_SEEN)
    assert bucket(did="u", unhandled=1, abnormal=1) == expect(
        started_count=2,
        errored_preaggr=2,
        unhandled=1,
        abnormal=1,
        user="u",
        user_tags=USER_SEEN | USER_ERRORED | USER_UNHANDLED | USER_ABNORMAL,
    )
    assert bucket(did="0" * 32, errored=1) == expect(started_count=1, errored_preaggr=1)
    assert bucket() is None
    big = bucket(exited=2**32 - 1, errored=2**32 - 1)
    assert big is not None and big.started_count == 2**33 - 2


def test_empty_aggregates_count_nothing() -> None:
    assert not sessions_item(sessions(), LIVE)


# -- envelopes -------------------------------------------------------------------------


def test_envelope_batch_merges_outcomes_and_ignores_other_items() -> None:
    good = session(init=True)
    body = b"{}\n" + b"".join(
        [
            b'{"type":"session"}\n' + good + b"\n",
            b'{"type":"event"}\n{}\n',
            b'{"type":"session"}\n' + good + b"\n",
            b'{"type":"session"}\n{}\n',
            b'{"type":"sessions"}\n' + sessions({"started": iso(NOW), "exited": 1}) + b"\n",
            b'{"type":"client_report"}\n{}\n',
        ]
    )
    batch = envelope_batch(parse_envelope(body), LIVE)
    assert len(batch.increments) == 3
    assert sorted(batch.outcomes, key=repr) == sorted(
        [
            OutcomeIncrement(42, "session", "accepted", "", NOW, 2),
            OutcomeIncrement(42, "session", "dropped", "invalid_payload", NOW, 1),
            OutcomeIncrement(42, "sessions", "accepted", "", NOW, 1),
        ],
        key=repr,
    )


def test_decoded_objects_can_be_fed_directly() -> None:
    payload = orjson.loads(session(init=True))
    assert only(session_item(payload, IMPORT)).started_count == 1
