"""Envelope framing (`ingest.md` 3), size limits (5) and the success body (6.1)."""

from __future__ import annotations

import pytest

from ingest.envelope import check_limits, parse_envelope, response_body
from ingest.errors import IngestError

SESSION = b'{"started":"2025-06-02T09:58:12Z","attrs":{"release":"r"}}'


def items(body: bytes) -> list[tuple[str, bytes]]:
    return [(item.type, item.payload) for item in parse_envelope(body).items]


def rejection(body: bytes) -> tuple[int, str, list[str] | None]:
    with pytest.raises(IngestError) as error:
        parse_envelope(body)
    return error.value.status, error.value.detail, error.value.causes


def cause(body: bytes) -> str:
    status, detail, causes = rejection(body)
    assert (status, detail) == (400, "invalid event envelope")
    assert causes
    return causes[0]


def test_header_only_envelopes() -> None:
    for body in (b"{}", b"{}\n", b' \t{"sent_at":null}\n', b"\n{}"):
        envelope = parse_envelope(body)
        assert envelope.items == [] and response_body(envelope) == {}


def test_empty_and_blank_bodies() -> None:
    assert rejection(b"") == (400, "empty request body", None)
    assert cause(b" \n ") == "missing envelope header"


def test_length_counts_payload_bytes_including_newlines() -> None:
    payload = b"a\nb\r\nc"
    body = b'{}\n{"type":"attachment","length":6}\n' + payload + b"\n"
    assert items(body) == [("attachment", payload)]
    assert items(body[:-1]) == [("attachment", payload)]  # the final LF is optional
    assert items(b'{}\n{"type":"a","length":0}\n\n{"type":"b","length":0}') == [
        ("a", b""),
        ("b", b""),
    ]


def test_without_length_the_payload_runs_to_the_next_lf() -> None:
    body = b'{}\n{"type":"session"}\n' + SESSION + b"\r\n"
    assert items(body) == [("session", SESSION + b"\r")]  # a CR belongs to the payload
    assert items(b'{}\n{"type":"session"}\n' + SESSION) == [("session", SESSION)]
    assert items(b'{}\n{"type":"session"}') == [("session", b"")]


def test_blank_lines_between_items_are_skipped() -> None:
    body = b'{}\n{"type":"a"}\nx\n\n\n  {"type":"b"}\ny\n'
    assert items(body) == [("a", b"x"), ("b", b"y")]


def test_one_extra_blank_line_at_the_end_is_eof() -> None:
    assert cause(b'{}\n{"type":"a","length":1}\nx\n\n') == "unexpected end of file"
    assert cause(b'{}\n{"type":"a"}\nx\n \n') == "unexpected end of file"


@pytest.mark.parametrize(
    "body",
    [
        b'{}\r\n{"type":"a"}\nx\n',  # CRLF after the envelope header (M20)
        b'{} \n{"type":"a"}\nx\n',
        b'{}\n{"type":"a"}\r\nx\n',  # CRLF after an item header
        b'{}\n{"type":"a","length":1}\nxy\n',  # length too small (M04)
        b'{}\n{"type":"a","length":1}\nx\r\n',
    ],
)
def test_missing_newline(body: bytes) -> None:
    assert cause(body) == "missing newline after header or payload"


def test_length_beyond_the_body_is_eof() -> None:
    assert cause(b'{}\n{"type":"a","length":5}\nabc\n') == "unexpected end of file"


@pytest.mark.parametrize(
    "header",
    [
        b"not json",
        b'{"length":2}',
        b'{"type":null}',
        b'{"type":5}',
        b'["session"]',
        b'{"type":"a","length":-1}',
        b'{"type":"a","length":1.0}',
        b'{"type":"a","length":true}',
        b'{"type":"a","length":"2"}',
        b'{"type":"a","length":4294967296}',
    ],
)
def test_invalid_item_headers(header: bytes) -> None:
    assert cause(b"{}\n" + header + b"\nxx\n") == "invalid item header"


def test_length_may_be_null_or_u32() -> None:
    assert items(b'{}\n{"type":"a","length":null}\nxx\n') == [("a", b"xx")]
    assert cause(b'{}\n{"type":"a","length":4294967295}\nxx') == "unexpected end of file"


def test_integration_items_are_rejected_and_unknown_types_kept() -> None:
    assert cause(b'{}\n{"type":"integration"}\n{}\n').startswith("invalid item type")
    assert items(b'{}\n{"type":"brand_new","x":1}\n{}\n{"type":""}\n') == [
        ("brand_new", b"{}"),
        ("", b""),
    ]


@pytest.mark.parametrize(
    "header",
    [
        b'{"sent_at":"2025-06-02T10:00:29Z",}',
        b"[]",
        b'"x"',
        b"{",
        b'{"sent_at":"yesterday"}',
        b'{"sent_at":1748858429}',
        b'{"event_id":"xyz"}',
        b'{"event_id":42}',
    ],
)
def test_invalid_envelope_headers(header: bytes) -> None:
    assert cause(header + b"\n") == "invalid envelope header"


def test_envelope_header_fields() -> None:
    envelope = parse_envelope(
        b'{"event_id":"9EC79C33-EC99-42AB-8353-589FCB2E04DC","sent_at":"2025-06-02T12:00:29.5+02:00",'
        b'"trace":{"anything":[1]},"unknown":true}\n'
    )
    assert envelope.event_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert envelope.sent_at == 1748858429.5
    assert envelope.headers["unknown"] is True
    assert parse_envelope(b'{"event_id":null,"sent_at":null}').sent_at is None


def test_response_ids() -> None:
    assert response_body(parse_envelope(b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}')) == {
        "id": "9ec79c33ec9942ab8353589fcb2e04dc"
    }
    with_event = parse_envelope(b'{}\n{"type":"event"}\n{}\n{"type":"session"}\n{}\n')
    generated = response_body(with_event)["id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert response_body(with_event) == {"id": generated}  # stable once assigned
    assert response_body(parse_envelope(b'{}\n{"type":"client_report"}\n{}\n')) == {}


def session_envelope(*types: str, payload: bytes = b"{}") -> bytes:
    return b"{}\n" + b"".join(b'{"type":"%s"}\n%s\n' % (t.encode(), payload) for t in types)


def limit_failure(body: bytes, **limits: int) -> tuple[int, str]:
    with pytest.raises(IngestError) as error:
        check_limits(parse_envelope(body), **limits)
    return error.value.status, error.value.detail


def test_session_item_budget_is_shared() -> None:
    check_limits(parse_envelope(session_envelope(*(["session"] * 50 + ["sessions"] * 50))))
    check_limits(parse_envelope(session_envelope(*(["session"] * 100 + ["event"] * 20))))
    assert limit_failure(session_envelope(*(["session"] * 101))) == (
        413,
        "envelope exceeded size limits for type 'session' "
        "(https://develop.sentry.dev/sdk/envelopes/#size-limits)",
    )
    status, detail = limit_failure(session_envelope(*(["session"] * 100 + ["sessions"])))
    assert status == 413 and "'sessions'" in detail


def test_item_payload_size_limit() -> None:
    body = session_envelope("sessions", payload=b"x" * 100)
    check_limits(parse_envelope(body), max_item_size=100)
    status, detail = limit_failure(body, max_item_size=99)
    assert status == 413 and "for type 'sessions'" in detail
    check_limits(parse_envelope(session_envelope("attachment", payload=b"x" * 100)), max_item_size=1)
