"""Envelope framing, size limits and the success response (`ingest.md` 3, 5, 6.1).

Byte-exact with Relay's parser: headers are one JSON object each, terminated by LF or the end
of the body; whitespace before a header is skipped; an item's `length` counts payload bytes,
otherwise the payload runs to the next LF.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from ingest.encoding import too_large
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
#: Longest envelope or item header line. Real headers are well under 10 KiB (the largest
#: field, `trace`, carries W3C baggage, itself limited to 8 KiB).
MAX_HEADER_SIZE = 64 * 1024

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
    """A framed envelope. `event_id` is 32 lower-case hex digits; `sent_at` unix seconds.

    `items` holds the items the framer was asked to keep; `has_event_item` is true when any
    item, kept or skipped, is event-like (it decides the response id).
    """

    headers: dict[str, Any]
    items: list[EnvelopeItem] = field(default_factory=list)
    event_id: str | None = None
    sent_at: float | None = None
    has_event_item: bool = False


@dataclass(frozen=True, slots=True)
class FrameLimits:
    """What the framer enforces while it reads (None: no limit).

    `max_items` counts every item; `max_session_items` and `max_item_size` apply to
    `session` / `sessions` items (one shared count budget); `max_header_size` bounds every
    header line. Payloads of items that are not kept are skipped without being held.
    """

    max_items: int | None = None
    max_session_items: int | None = MAX_SESSION_ITEMS
    max_item_size: int | None = DEFAULT_MAX_ITEM_SIZE
    max_header_size: int = MAX_HEADER_SIZE
    keep_all: bool = False


#: No limits and every payload kept: the framing of `parse_envelope`.
UNLIMITED = FrameLimits(max_session_items=None, max_item_size=None, max_header_size=1 << 62, keep_all=True)


def parse_envelope(body: bytes) -> Envelope:
    """Frame a whole decoded request body, keeping every item; raises IngestError 400 for
    anything malformed. (The endpoint frames lazily with `frame_envelope` instead.)"""
    frames = frame_envelope((body,), UNLIMITED)
    envelope = next(frames)
    assert isinstance(envelope, Envelope)
    for item in frames:
        assert isinstance(item, EnvelopeItem)
        envelope.items.append(item)
    return envelope


def frame_envelope(chunks: Iterable[bytes], limits: FrameLimits) -> Iterator[Envelope | EnvelopeItem]:
    """Frame a decoded body given as chunks: yields the Envelope (header only) first, then
    each kept item as soon as it is complete.

    Nothing is read ahead of the item being yielded, so a consumer that stops early stops
    the decoding too. Raises IngestError 400 for malformed framing and 413 at the first
    limit exceeded, in the order the bytes come.
    """
    reader = _Reader(iter(chunks))
    if reader.at_end():
        raise IngestError(400, "empty request body")
    reader.skip_whitespace()
    if reader.at_end():
        raise invalid_envelope("missing envelope header")
    headers = _read_header(reader, "invalid envelope header", limits.max_header_size)
    envelope = Envelope(
        headers=headers,
        event_id=_header_event_id(headers),
        sent_at=_header_sent_at(headers),
    )
    yield envelope

    items = 0
    session_items = 0
    while not reader.at_end():
        reader.skip_whitespace()
        if reader.at_end():
            # Only one LF may follow the last payload; more is read as a missing item.
            raise invalid_envelope("unexpected end of file")
        item_headers = _read_header(reader, "invalid item header", limits.max_header_size)
        item_type, length = _item_type_and_length(item_headers)
        items += 1
        if limits.max_items is not None and items > limits.max_items:
            raise too_large()
        is_session = item_type in SESSION_ITEM_TYPES
        if item_type in EVENT_ITEM_TYPES:
            envelope.has_event_item = True
        max_size = None
        if is_session:
            session_items += 1
            if limits.max_session_items is not None and session_items > limits.max_session_items:
                raise too_large_for(item_type)
            max_size = limits.max_item_size
        keep = is_session or limits.keep_all
        if length is None:
            if keep:
                payload = reader.line(max_size, partial(too_large_for, item_type))
            else:
                reader.skip_line()
        else:
            if max_size is not None and length > max_size:
                raise too_large_for(item_type)
            if keep:
                payload = reader.read(length)
            elif not reader.skip(length):
                raise invalid_envelope("unexpected end of file")
            if keep and len(payload) < length:
                raise invalid_envelope("unexpected end of file")
            if not reader.newline_or_end():
                raise invalid_envelope("missing newline after header or payload")
        if keep:
            yield EnvelopeItem(item_headers, item_type, payload)


def too_large_for(item_type: str) -> IngestError:
    return IngestError(
        413,
        f"envelope exceeded size limits for type '{item_type}' "
        "(https://develop.sentry.dev/sdk/envelopes/#size-limits)",
    )


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
            raise too_large_for(item.type)


def response_body(envelope: Envelope) -> dict[str, str]:
    """`{}` or `{"id": ...}` for an accepted envelope; generates the id of an event-like
    item when the header has none, as Relay does."""
    if envelope.event_id is not None:
        return {"id": envelope.event_id}
    if envelope.has_event_item or any(item.type in EVENT_ITEM_TYPES for item in envelope.items):
        envelope.event_id = uuid.uuid4().hex
        return {"id": envelope.event_id}
    return {}


class _Reader:
    """Forward reads over a stream of chunks, holding only the unread part of one chunk
    (plus the line being assembled)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._position = 0

    def _fill(self) -> bool:
        """Append the next non-empty chunk to the unread bytes; False at the end."""
        for chunk in self._chunks:
            if chunk:
                self._buffer = self._buffer[self._position :] + chunk
                self._position = 0
                return True
        return False

    def at_end(self) -> bool:
        return self._position >= len(self._buffer) and not self._fill()

    def skip_whitespace(self) -> None:
        while not self.at_end():
            buffer, position = self._buffer, self._position
            size = len(buffer)
            while position < size and buffer[position] in _WHITESPACE:
                position += 1
            self._position = position
            if position < size:
                return

    def line(self, limit: int | None, too_long: Callable[[], IngestError]) -> bytes:
        """The bytes up to the next LF (consumed, not returned) or the end."""
        searched = self._position
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                line = self._buffer[self._position : newline]
                self._position = newline + 1
                if limit is not None and len(line) > limit:
                    raise too_long()
                return line
            if limit is not None and len(self._buffer) - self._position > limit:
                raise too_long()
            searched = len(self._buffer) - self._position
            if not self._fill():
                line = self._buffer[self._position :]
                self._position = len(self._buffer)
                return line
            searched = self._position + searched

    def skip_line(self) -> None:
        """Pass over the bytes up to the next LF (consumed) or the end, holding none."""
        while True:
            newline = self._buffer.find(b"\n", self._position)
            if newline >= 0:
                self._position = newline + 1
                return
            self._buffer, self._position = b"", 0
            if not self._fill():
                return

    def read(self, n: int) -> bytes:
        """Up to `n` bytes (fewer only at the end)."""
        while len(self._buffer) - self._position < n and self._fill():
            pass
        data = self._buffer[self._position : self._position + n]
        self._position += len(data)
        return data

    def skip(self, n: int) -> bool:
        """Pass over `n` bytes; False when the body ends first."""
        while True:
            available = len(self._buffer) - self._position
            if available >= n:
                self._position += n
                return True
            n -= available
            self._buffer, self._position = b"", 0
            if not self._fill():
                return False

    def newline_or_end(self) -> bool:
        """Consume an LF; True also at the end of the body, False at any other byte."""
        if self.at_end():
            return True
        if self._buffer[self._position] == _LF:
            self._position += 1
            return True
        return False


def _read_header(reader: _Reader, cause: str, limit: int) -> dict[str, Any]:
    """The JSON object on the current line (its LF consumed)."""
    line = reader.line(limit, too_large)
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise invalid_envelope(cause, str(error)) from None
    if not isinstance(value, dict):
        raise invalid_envelope(cause, "expected a JSON object")
    if not line.endswith(b"}"):
        # Whitespace or a CR between the object and the LF.
        raise invalid_envelope("missing newline after header or payload")
    return value


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


def first_line(chunks: Iterable[bytes], limit: int = MAX_HEADER_SIZE) -> bytes:
    """The bytes before the first LF of a decoded body, reading no further (413 when the
    line is longer than `limit`)."""
    return _Reader(iter(chunks)).line(limit, too_large)
