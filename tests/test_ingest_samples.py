"""Every sample of `shared/samples/envelopes.txt`, replayed through the pure ingest layer.

Expected increments are written out from each sample's "stored quantities" text, not from
what the code produces. Key lookup (403) and rate limits (429) need state and are the
transport's; at this level M23 and M11 are well-formed requests.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from typing import Any

import pytest

from ingest.envelope import response_body
from ingest.errors import IngestError
from ingest.items import ItemContext, envelope_batch
from ingest.request import read_envelope_request
from storage.types import (
    USER_ABNORMAL,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    ClientDimensions,
    OutcomeIncrement,
    SessionIncrement,
    WriteBatch,
)
from tests.samples import RECEIVED_AT, Sample, load_samples

SAMPLES = load_samples()
KEY = "e12d836b15bb49d7bbf99e64295d995b"
STATEFUL = {"M11", "M23"}  # 429 and 403 need the transport's state


def at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run(sample: Sample) -> tuple[int, dict[str, object], WriteBatch | None]:
    try:
        request = read_envelope_request(
            project_id=sample.project_id,
            headers=sample.header_map,
            query=sample.query,
            body=sample.body,
        )
    except IngestError as error:
        return error.status, error.body(), None
    envelope = request.envelope
    ctx = ItemContext(project_id=42, received_at=RECEIVED_AT, sent_at=envelope.sent_at)
    return 200, dict(response_body(envelope)), envelope_batch(envelope, ctx)


def accepted(item_type: str, quantity: int = 1) -> OutcomeIncrement:
    return OutcomeIncrement(42, item_type, "accepted", "", RECEIVED_AT, quantity)


def dropped(item_type: str, reason: str, quantity: int = 1) -> OutcomeIncrement:
    return OutcomeIncrement(42, item_type, "dropped", reason, RECEIVED_AT, quantity)


def normalized(item_type: str, reason: str, quantity: int = 1) -> OutcomeIncrement:
    return OutcomeIncrement(42, item_type, "normalized", reason, RECEIVED_AT, quantity)


def inc(release: str, environment: str | None, started: str, **fields: Any) -> SessionIncrement:
    return SessionIncrement(
        project_id=42, release=release, environment=environment, started=at(started), **fields
    )


APP = ("myapp@1.4.2", "production")
API = ("api@5.0.1", "production")
FUN = ("fun-release", "not-fun-env")
FLUTTER = ("app@2.0.0+31", "production")

# Sample id -> (increments, outcomes) as the sample's "stored quantities" state them.
STORED: dict[str, tuple[list[SessionIncrement], list[OutcomeIncrement]]] = {
    "S01": (
        [inc(*APP, "2025-06-02T09:58:12.345678Z", started_count=1, user="user-42", user_tags=USER_SEEN)],
        [accepted("session")],
    ),
    "S02": (
        [inc(*APP, "2025-06-02T09:58:12.345678Z", user="user-42", user_tags=USER_SEEN, duration=135.65)],
        [accepted("session")],
    ),
    "S03": (
        [
            inc(
                *APP,
                "2025-06-02T09:40:00Z",
                crashed=1,
                error_sid="0f1e2d3c-4b5a-4968-8776-655443322110",
                user="user-77",
                user_tags=USER_SEEN | USER_ERRORED | USER_CRASHED,
            )
        ],
        [accepted("session")],
    ),
    "S04": (
        [
            inc(
                "io.example.app@3.2.0+450",
                "production",
                "2025-06-01T22:10:05Z",
                abnormal=1,
                error_sid="5b6c7d8e-9fa0-4b1c-8d2e-3f4051627384",
                user="device-abc",
                user_tags=USER_SEEN | USER_ERRORED | USER_ABNORMAL | USER_ANR_FOREGROUND,
            )
        ],
        [accepted("session")],
    ),
    "S05": (
        [
            inc(
                *FUN,
                "2025-06-02T09:30:00Z",
                started_count=1,
                error_sid="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                user="42",
                user_tags=USER_SEEN | USER_ERRORED,
            )
        ],
        [accepted("session")],
    ),
    "S06": (
        [
            inc(
                "web@2025.6.1",
                "staging",
                "2025-06-02T08:00:00Z",
                error_sid="a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90",
                user="user-9",
                user_tags=USER_SEEN | USER_ERRORED,
                # attrs.user_agent "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0": no OS version.
                dimensions=ClientDimensions(
                    os_name="Linux", browser_name="Firefox", browser_major="Firefox 126"
                ),
            )
        ],
        [accepted("session")],
    ),
    "S07": (
        [
            inc(*API, "2025-06-02T09:57:00Z", started_count=121, errored_preaggr=3),
            inc(*API, "2025-06-02T09:58:00Z", started_count=100, errored_preaggr=3, crashed=2),
            inc(*API, "2025-06-02T09:59:00Z", started_count=131, errored_preaggr=1, abnormal=1),
            inc(
                *API,
                "2025-06-02T09:59:00Z",
                started_count=5,
                errored_preaggr=1,
                crashed=1,
                user="tenant-7",
                user_tags=USER_SEEN | USER_ERRORED | USER_CRASHED,
            ),
        ],
        [accepted("sessions", 4)],
    ),
    "S08": (
        [
            inc("cli@0.9.0", None, "2025-06-02T10:00:01Z", started_count=1),
            inc("cli@0.9.0", None, "2025-06-02T09:59:50Z", started_count=1, duration=30.0),
        ],
        [accepted("session", 2)],
    ),
    "S09": (
        [
            inc(*FUN, "2025-06-02T09:59:00Z", started_count=3, errored_preaggr=1),
            inc(*FUN, "2025-06-02T10:00:00Z", started_count=1, errored_preaggr=1, crashed=1),
        ],
        [accepted("sessions", 2)],
    ),
    "S10": (
        [
            inc(
                *FLUTTER,
                "2025-06-02T09:50:00Z",
                started_count=1,
                unhandled=1,
                error_sid="9f8e7d6c-5b4a-4938-8271-605f4e3d2c1b",
                user="u-5",
                user_tags=USER_SEEN | USER_ERRORED | USER_UNHANDLED,
            ),
            inc(*FLUTTER, "2025-06-02T09:55:00Z", started_count=12, errored_preaggr=2, unhandled=2),
        ],
        [accepted("session"), accepted("sessions")],
    ),
    "S11": (
        [inc("api@5.0.2", "production", "2025-06-02T10:00:00Z", started_count=6, errored_preaggr=1)],
        [accepted("sessions")],
    ),
    "M01": ([], [dropped("session", "invalid_payload")]),
    "M02": ([], [dropped("session", "invalid_payload")]),
    "M05": ([], [dropped("session", "in_future")]),
    "M06": (
        # drift -2:59:59 applied: started 12:59:00 -> 09:59:01
        [inc("myapp@1.4.2", None, "2025-06-02T09:59:01Z", started_count=1)],
        [accepted("session"), normalized("session", "clock_drift_corrected")],
    ),
    "M07": ([], [dropped("session", "too_old")]),
    "M10": (
        [inc("myapp@1.4.2", None, "2025-06-02T09:58:12Z", started_count=1)] * 3,
        [accepted("session", 3)],
    ),
    "M11": ([inc("myapp@1.4.2", None, "2025-06-02T09:58:12Z", started_count=1)], [accepted("session")]),
    "M12": ([], [dropped("session", "invalid_payload")]),
    "M13": ([], [dropped("session", "unknown_status")]),
    "M15": ([], []),
    "M16": (
        [inc(*API, "2025-06-02T09:58:00Z", started_count=8, errored_preaggr=1)],
        [dropped("sessions", "too_old"), accepted("sessions")],
    ),
    "M18": ([], [dropped("session", "invalid_release")]),
    "M23": ([inc("myapp@1.4.2", None, "2025-06-02T09:58:12Z", started_count=1)], [accepted("session")]),
}


def test_every_sample_is_covered() -> None:
    rejected = {k for k, s in SAMPLES.items() if s.response.status != 200} - STATEFUL
    assert set(SAMPLES) == set(STORED) | rejected
    assert len(SAMPLES) == 34


@pytest.mark.parametrize("sample_id", sorted(SAMPLES))
def test_status_and_detail(sample_id: str) -> None:
    sample = SAMPLES[sample_id]
    status, body, _ = run(sample)
    expected = sample.response
    if sample_id in STATEFUL:
        assert status == 200  # the transport answers 429 / 403 from its own state
        return
    assert status == expected.status
    assert body.get("detail") == expected.body.get("detail")
    if expected.status == 200:
        assert body == expected.body


@pytest.mark.parametrize("sample_id", sorted(STORED))
def test_stored_quantities(sample_id: str) -> None:
    status, _, batch = run(SAMPLES[sample_id])
    assert status == 200 and batch is not None
    increments, outcomes = STORED[sample_id]
    assert sorted(batch.increments, key=repr) == sorted(increments, key=repr)
    assert sorted(batch.outcomes, key=repr) == sorted(outcomes, key=repr)


def test_framing_causes_match_the_samples() -> None:
    for sample_id in ("M03", "M04", "M14", "M20"):
        sample = SAMPLES[sample_id]
        assert run(sample)[1] == sample.response.body
    # M08 names the header first; the JSON parser's own text differs from Relay's.
    causes = run(SAMPLES["M08"])[1]["causes"]
    assert isinstance(causes, list) and causes[0] == "invalid envelope header"


def test_dsn_fallback_answer_is_relays() -> None:
    assert run(SAMPLES["M09"])[1] == SAMPLES["M09"].response.body


def test_m10_with_101_items_is_413() -> None:
    sample = SAMPLES["M10"]
    lines = sample.body.split(b"\n")
    header, item = lines[0], b"\n".join(lines[1:3])
    body = header + b"\n" + b"\n".join([item] * 101) + b"\n"
    with pytest.raises(IngestError) as error:
        read_envelope_request(project_id=42, headers=sample.header_map, query="", body=body)
    assert error.value.status == 413
    assert error.value.body() == sample.alternatives[0].body
    assert sample.alternatives[0].status == 413


def test_m06_without_sent_at_is_in_future() -> None:
    # The sample's note: without a sent_at header the same payload is dropped as in_future.
    sample = SAMPLES["M06"]
    body = b"{}" + sample.body[sample.body.index(b"\n") :]
    request = read_envelope_request(project_id=42, headers=sample.header_map, query="", body=body)
    ctx = ItemContext(project_id=42, received_at=RECEIVED_AT, sent_at=request.envelope.sent_at)
    assert envelope_batch(request.envelope, ctx).outcomes == [dropped("session", "in_future")]


def test_m13_with_exited_status_removes_the_environment() -> None:
    sample = SAMPLES["M13"]
    payload = sample.body.split(b"\n")[2].replace(b'"paused"', b'"exited"')
    body = b'{}\n{"type":"session"}\n' + payload + b"\n"
    request = read_envelope_request(project_id=42, headers=sample.header_map, query="", body=body)
    batch = envelope_batch(request.envelope, ItemContext(project_id=42, received_at=RECEIVED_AT))
    assert batch.increments == [inc("myapp@1.4.2", None, "2025-06-02T09:58:12Z", started_count=1)]
    assert sorted(batch.outcomes, key=repr) == sorted(
        [accepted("session"), normalized("session", "environment_removed")], key=repr
    )


def test_s11_decodes_to_the_shown_body_also_as_brotli() -> None:
    import brotli

    sample = SAMPLES["S11"]
    assert sample.decoded_body is not None
    assert gzip.decompress(sample.body) == sample.decoded_body
    headers = dict(sample.header_map, **{"content-encoding": "br"})
    request = read_envelope_request(
        project_id=42, headers=headers, query="", body=brotli.compress(sample.decoded_body)
    )
    batch = envelope_batch(request.envelope, ItemContext(project_id=42, received_at=RECEIVED_AT))
    assert batch.increments == STORED["S11"][0]
