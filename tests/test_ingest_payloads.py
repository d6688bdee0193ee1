"""Strict payload parsing (`ingest.md` 8, 9): types, numbers, UUIDs and timestamps."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
import pytest

from ingest.payloads import InvalidPayload, parse_session_aggregates, parse_session_update
from ingest.timestamps import parse_timestamp
from ingest.uuids import canonical_uuid, uuid_hex

BASE: dict[str, Any] = {
    "sid": "7c7b6585f9014351bf8d02711b721929",
    "started": "2025-06-02T09:58:12Z",
    "attrs": {"release": "myapp@1.4.2"},
}


def update(**changes: Any) -> dict[str, Any]:
    payload = dict(BASE, **changes)
    return {k: v for k, v in payload.items() if v is not ...}


def attrs(**changes: Any) -> dict[str, Any]:
    return update(attrs=dict(BASE["attrs"], **changes))


def invalid(payload: Any) -> bool:
    # json, not orjson: the payload may hold integers beyond 64 bits.
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    with pytest.raises(InvalidPayload):
        parse_session_update(raw)
    return True


def test_defaults() -> None:
    parsed = parse_session_update(orjson.dumps(update()))
    assert parsed.sid == "7c7b6585-f901-4351-bf8d-02711b721929"
    assert (parsed.did, parsed.seq, parsed.init, parsed.timestamp) == (None, None, None, None)
    assert (parsed.status, parsed.errors, parsed.duration, parsed.abnormal_mechanism) == ("ok", 0, None, None)
    assert parsed.started == 1748858292.0
    assert parsed.attrs.environment is None and parsed.attrs.release == "myapp@1.4.2"


def test_missing_sid_gets_a_random_uuid4() -> None:
    first = parse_session_update(update(sid=...))
    second = parse_session_update(update(sid=...))
    assert first.sid != second.sid
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first.sid)


@pytest.mark.parametrize(
    "sid",
    [
        "7C7B6585F9014351BF8D02711B721929",
        "7c7b6585-f901-4351-bf8d-02711b721929",
        "7C7B6585-F901-4351-BF8D-02711B721929",
    ],
)
def test_sid_spellings_are_canonicalized(sid: str) -> None:
    assert parse_session_update(update(sid=sid)).sid == "7c7b6585-f901-4351-bf8d-02711b721929"


@pytest.mark.parametrize(
    "sid",
    [
        "session-1",
        "{7c7b6585-f901-4351-bf8d-02711b721929}",
        "urn:uuid:7c7b6585-f901-4351-bf8d-02711b721929",
        "7c7b6585f901-4351-bf8d-02711b721929ab",
        "7c7b6585f9014351bf8d02711b72192g",
        "",
        None,
        42,
    ],
)
def test_bad_sids(sid: Any) -> None:
    assert invalid(update(sid=sid))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("did", 12345),
        ("did", True),
        ("did", ["a"]),
        ("seq", -1),
        ("seq", 1.0),
        ("seq", True),
        ("seq", None),
        ("seq", "1"),
        ("seq", 2**64),
        ("init", 1),
        ("init", "true"),
        ("init", None),
        ("errors", -1),
        ("errors", 1.0),
        ("errors", False),
        ("errors", None),
        ("errors", "2"),
        ("duration", "1.5"),
        ("duration", True),
        ("duration", [1]),
        ("status", None),
        ("status", 1),
        ("timestamp", None),
        ("timestamp", 1748858292),
        ("timestamp", "2025-06-02T09:58:12"),
        ("started", None),
        ("started", ...),
        ("started", "2025-06-02 09:58:12Z"),
        ("abnormal_mechanism", 1),
        ("abnormal_mechanism", {"a": 1}),
        ("attrs", ...),
        ("attrs", None),
        ("attrs", []),
        ("attrs", {}),
        ("attrs", {"release": None}),
        ("attrs", {"release": 1}),
    ],
)
def test_type_errors_fail_the_item(field: str, value: Any) -> None:
    assert invalid(update(**{field: value}))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("environment", 1),
        ("user_agent", False),
        ("ip_address", 1),
        ("ip_address", "not-an-ip"),
        ("ip_address", "fe80::1%eth0"),
        ("ip_address", "1.2.3"),
        ("ip_address", "01.2.3.4"),
        ("ip_address", "{{ auto }}"),
    ],
)
def test_attribute_errors_fail_the_item(name: str, value: Any) -> None:
    assert invalid(attrs(**{name: value}))


@pytest.mark.parametrize("ip", ["{{auto}}", "127.0.0.1", "::1", "2001:db8::ff00:42:8329", "::ffff:1.2.3.4"])
def test_ip_addresses(ip: str) -> None:
    assert parse_session_update(attrs(ip_address=ip)).attrs.ip_address == ip


def test_accepted_values() -> None:
    parsed = parse_session_update(
        update(
            did="",
            seq=2**64 - 1,
            init=False,
            errors=2**64 - 1,
            duration=3,
            status="paused",
            abnormal_mechanism="something",
            extra={"ignored": True},
            attrs={"release": "", "environment": None, "user_agent": None, "ip_address": None},
        )
    )
    assert parsed.did == "" and parsed.seq == 2**64 - 1 and parsed.init is False
    assert parsed.duration == 3.0 and type(parsed.duration) is float
    assert parsed.status == "paused" and parsed.abnormal_mechanism == "something"
    assert parsed.attrs.release == "" and parsed.attrs.environment is None
    assert parse_session_update(update(did=None, duration=None, abnormal_mechanism=None)).did is None


def test_not_an_object_or_not_json() -> None:
    for payload in (b"[]", b'"x"', b"null", b"{", b'{"sid":NaN}', b"\xff"):
        assert invalid(payload)


def test_already_decoded_objects_are_accepted() -> None:
    assert parse_session_update(update(init=True)).init is True
    assert parse_session_aggregates({"attrs": {"release": "r"}}).aggregates == []


def aggregates(*buckets: Any, **top: Any) -> bytes:
    return orjson.dumps({"attrs": {"release": "r"}, "aggregates": list(buckets), **top})


def test_aggregates() -> None:
    parsed = parse_session_aggregates(
        aggregates(
            {
                "started": "2025-06-02T09:59:00.000000Z",
                "did": "d",
                "exited": 2**32 - 1,
                "errored": 1,
                "abnormal": 2,
                "crashed": 3,
                "unhandled": 4,
                "other": "x",
            },
            {"started": "2025-06-02T10:00:00+00:00"},
        )
    )
    first, second = parsed.aggregates
    assert (first.exited, first.errored, first.abnormal, first.crashed, first.unhandled) == (
        2**32 - 1,
        1,
        2,
        3,
        4,
    )
    assert first.did == "d" and first.started == 1748858340.0
    assert (second.did, second.exited, second.started) == (None, 0, 1748858400.0)
    assert parse_session_aggregates(orjson.dumps({"attrs": {"release": "r"}})).aggregates == []


@pytest.mark.parametrize(
    "payload",
    [
        aggregates({"started": "2025-06-02T09:59:00Z", "exited": 2**32}),
        aggregates({"started": "2025-06-02T09:59:00Z", "exited": -1}),
        aggregates({"started": "2025-06-02T09:59:00Z", "exited": 1.0}),
        aggregates({"started": "2025-06-02T09:59:00Z", "crashed": True}),
        aggregates({"started": "2025-06-02T09:59:00Z", "errored": None}),
        aggregates({"started": "2025-06-02T09:59:00Z", "did": 7}),
        aggregates({"exited": 1}),
        aggregates({"started": "2025-06-02T09:59:00"}),
        aggregates([]),
        aggregates(aggregates=None),
        orjson.dumps({"aggregates": []}),
        orjson.dumps({"attrs": {"release": "r"}, "aggregates": {}}),
    ],
)
def test_bad_aggregates_fail_the_whole_item(payload: bytes) -> None:
    with pytest.raises(InvalidPayload):
        parse_session_aggregates(payload)


# -- timestamps and uuids --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-02T10:00:30Z", 1748858430.0),
        ("2025-06-02t10:00:30z", 1748858430.0),
        ("2025-06-02T10:00:30+00:00", 1748858430.0),
        ("2025-06-02T11:00:30+0100", 1748858430.0),
        ("2025-06-02T08:30:30-01:30", 1748858430.0),
        ("2025-06-02T10:00:30.25Z", 1748858430.25),
        ("2025-06-02T09:58:12.345678Z", 1748858292.345678),
        ("2024-02-29T00:00:00Z", 1709164800.0),
        ("1970-01-01T00:00:00Z", 0.0),
        ("2016-12-31T23:59:60Z", 1483228799.0),
    ],
)
def test_timestamps(value: str, expected: float) -> None:
    parsed = parse_timestamp(value)
    assert parsed is not None and math.isclose(parsed, expected, abs_tol=1e-6)


@pytest.mark.parametrize(
    "value",
    [
        "2025-06-02T09:58:12",
        "2025-06-02 09:58:12Z",
        "2025-06-02T09:58:12+01",
        "2025-06-02",
        "1748858292",
        "2025-02-29T00:00:00Z",
        "2025-13-01T00:00:00Z",
        "2025-06-31T00:00:00Z",
        "2025-06-02T24:00:00Z",
        "2025-06-02T23:60:00Z",
        "2025-06-02T09:58:12+24:00",
        "2025-06-02T09:58:12.Z",
        "2025-06-02T09:58:12Z ",
        " 2025-06-02T09:58:12Z",
        "",
        "２０２５-06-02T09:58:12Z",
    ],
)
def test_bad_timestamps(value: str) -> None:
    assert parse_timestamp(value) is None


def test_uuid_helpers() -> None:
    assert uuid_hex("9EC79C33-EC99-42AB-8353-589FCB2E04DC") == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert canonical_uuid("0f1e2d3c4b5a49688776655443322110") == "0f1e2d3c-4b5a-4968-8776-655443322110"
    assert uuid_hex("9ec79c33-ec99-42ab-8353589fcb2e04dc") is None
    assert canonical_uuid("") is None
