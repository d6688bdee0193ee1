"""Envelope framing, size limits and the success response (`ingest.md` 3, 5, 6.1).

Byte-exact with Relay's parser: headers are one JSON object each, terminated by LF or the end
of the body; whitespace before a header is skipped; an item's `length` counts payload bytes,
otherwise the payload runs to the next LF.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.errors import IngestError, invalid_envelope
from ingest.timestamps import parse_timestamp
from ingest.uuids import uuid_hex

SESSION_ITEM_TYPES = frozenset({"session", "sessions"})

#: Item types that make Relay assign an event id (`Item::requires_event`); the response
#: then carries that id even when the envelope header has none.
EVENT_ITEM_TYPES = frozenset(
    {
        "event",
        "transaction",
        "security",
        "raw_security",
        "attachment",
        "form_data",
        "unreal_report",
        "user_report",
        "feedback",
        "replay_event",
        "profile",
    }
)

#: Relay-internal item types that clients must never send.
INTERNAL_ITEM_TYPES = frozenset({"integration"})

MAX_SESSION_ITEMS = 100
DEFAULT_MAX_ITEM_SIZE = 1024 * 1024

_U32_MAX = 0xFFFFFFFF
_LF = 0x0A
# serde_json's notion of whitespace, skipped before every header.
_WHITESPACE = frozenset(b" \t\n\r")


@dataclass(slots=True)
class EnvelopeItem:
    headers: dict[str, Any]
    type: str
    payload: bytes


@dataclass(slots=True)
class Envelope:
    """A framed envelope. `event_id` is 32 lower-case hex digits; `sent_at` unix seconds."""

    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)
    event_id: str | None = None
    sent_at: float | None = None


def parse_envelope(body: bytes) -> Envelope:
    """Frame a decoded request body; raises IngestError 400 for anything malformed."""
    if not body:
        raise IngestError(400, "empty request body")
    size = len(body)
    start = _skip_whitespace(body, 0)
    if start == size:
        raise invalid_envelope("missing envelope header")
    headers, end = _read_header(body, start, "invalid envelope header")
    envelope = Envelope(
        headers=headers,
        event_id=_header_event_id(headers),
        sent_at=_header_sent_at(headers),
    )

    position = end + 1
    while position < size:
        start = _skip_whitespace(body, position)
        if start == size:
            # Only one LF may follow the last payload; more is read as a missing item.
            raise invalid_envelope("unexpected end of file")
        item_headers, end = _read_header(body, start, "invalid item header")
        item_type, length = _item_type_and_length(item_headers)
        payload_start = min(end + 1, size)
        if length is None:
            newline = body.find(b"\n", payload_start)
            payload_end = size if newline < 0 else newline
        else:
            payload_end = payload_start + length
            if payload_end > size:
                raise invalid_envelope("unexpected end of file")
            if payload_end < size and body[payload_end] != _LF:
                raise invalid_envelope("missing newline after header or payload")
        envelope.items.append(
            EnvelopeItem(item_headers, item_type, body[payload_start:payload_end])
        )
        position = payload_end + 1
    return envelope


def check_limits(
    envelope: Envelope,
    *,
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
    max_session_items: int = MAX_SESSION_ITEMS,
) -> None:
    """413 when session items exceed their shared count budget or one payload is too big.

    The detail names the type of the item that went over the limit.
    """
    count = 0
    for item in envelope.items:
        if item.type not in SESSION_ITEM_TYPES:
            continue
        count += 1
        if count > max_session_items or len(item.payload) > max_item_size:
            raise IngestError(
                413,
                f"envelope exceeded size limits for type '{item.type}' "
                "(https://develop.sentry.dev/sdk/envelopes/#size-limits)",
            )


def response_body(envelope: Envelope) -> dict[str, str]:
    """`{}` or `{"id": ...}` for an accepted envelope; generates the id of an event-like
    item when the header has none, as Relay does."""
    if envelope.event_id is not None:
        return {"id": envelope.event_id}
    if any(item.type in EVENT_ITEM_TYPES for item in envelope.items):
        envelope.event_id = uuid.uuid4().hex
        return {"id": envelope.event_id}
    return {}


def _skip_whitespace(body: bytes, position: int) -> int:
    size = len(body)
    while position < size and body[position] in _WHITESPACE:
        position += 1
    return position


def _read_header(body: bytes, start: int, cause: str) -> tuple[dict[str, Any], int]:
    """The JSON object starting at `start` and the offset of the byte after it."""
    newline = body.find(b"\n", start)
    end = len(body) if newline < 0 else newline
    line = body[start:end]
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise invalid_envelope(cause, str(error)) from None
    if not isinstance(value, dict):
        raise invalid_envelope(cause, "expected a JSON object")
    if not line.endswith(b"}"):
        # Whitespace or a CR between the object and the LF.
        raise invalid_envelope("missing newline after header or payload")
    return value, end


def _header_event_id(headers: dict[str, Any]) -> str | None:
    value = headers.get("event_id")
    if value is None:
        return None
    event_id = uuid_hex(value) if isinstance(value, str) else None
    if event_id is None:
        raise invalid_envelope("invalid envelope header", "invalid `event_id`")
    return event_id


def _header_sent_at(headers: dict[str, Any]) -> float | None:
    value = headers.get("sent_at")
    if value is None:
        return None
    sent_at = parse_timestamp(value) if isinstance(value, str) else None
    if sent_at is None:
        raise invalid_envelope("invalid envelope header", "invalid `sent_at`")
    return sent_at


def _item_type_and_length(headers: dict[str, Any]) -> tuple[str, int | None]:
    item_type = headers.get("type")
    if not isinstance(item_type, str):
        raise invalid_envelope("invalid item header", "missing or invalid `type`")
    if item_type in INTERNAL_ITEM_TYPES:
        raise invalid_envelope(f"invalid item type `{item_type}`")
    length = headers.get("length")
    if length is not None and (type(length) is not int or not 0 <= length <= _U32_MAX):
        raise invalid_envelope("invalid item header", "invalid `length`")
    return item_type, length
