"""Everything the envelope endpoint checks before it may answer 200.

`read_envelope_request` is the whole check in Relay's order on a whole body: credentials
from the request (their errors win over body errors), decoding, the `dsn` fallback on the
decoded first line, framing, the `dsn` reconciliation and the size limits.

The endpoint splits the same steps around the key lookup, so that a request with an unknown
key costs nothing: `request_credentials` and `content_codings` (headers only), then the
key lookup (403), then `header_credentials` (the first line only, decoded lazily), then
`ingest_envelope`, which decodes, frames and validates in one lazy pass and stops at the
first limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ingest.credentials import (
    Credentials,
    body_dsn_credentials,
    dsn_credentials,
    request_credentials,
)
from ingest.dimensions import sdk_name_of
from ingest.encoding import decode_body, decoded_chunks
from ingest.envelope import (
    DEFAULT_MAX_ITEM_SIZE,
    Envelope,
    EnvelopeItem,
    FrameLimits,
    check_limits,
    first_line,
    frame_envelope,
    parse_envelope,
    response_body,
    too_large_for,
)
from ingest.items import ItemContext, session_item, sessions_item
from ingest.payloads import InvalidPayload, json_object
from storage.types import WriteBatch

DEFAULT_MAX_ENVELOPE_SIZE = 100 * 1024 * 1024
#: Items of any type per envelope. sentry-python's largest envelopes hold 100 session items
#: plus a client report; event envelopes hold an event and a few attachments.
DEFAULT_MAX_ITEMS = 1000
#: Buckets per `sessions` item: the maximum the SDK documentation gives (`sessions.mdx`).
#: SDK session flushers aggregate by minute and flush every 60 s, so real items hold 1-2.
DEFAULT_MAX_BUCKETS = 100


@dataclass(frozen=True, slots=True)
class IngestLimits:
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE
    max_items: int = DEFAULT_MAX_ITEMS
    max_buckets: int = DEFAULT_MAX_BUCKETS


@dataclass(slots=True)
class IngestedEnvelope:
    """An envelope that passed every check: its answer, and one batch per session item in
    envelope order (outcomes not yet merged)."""

    response: dict[str, str]
    items: list[WriteBatch]


@dataclass(frozen=True, slots=True)
class EnvelopeRequest:
    envelope: Envelope
    credentials: Credentials


def read_envelope_request(
    *,
    project_id: int,
    headers: Mapping[str, str],
    query: str | Sequence[tuple[str, str]],
    body: bytes,
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
) -> EnvelopeRequest:
    """Authenticate, decode and frame one request; raises IngestError with the answer.

    `headers` is looked up with lower-case names; `body` is the body as received.
    """
    credentials = request_credentials(headers, query)
    decoded = decode_body(body, headers.get("content-encoding"), max_size=max_envelope_size)
    if credentials is None:
        credentials = body_dsn_credentials(decoded, project_id)
    envelope = parse_envelope(decoded)
    credentials = dsn_credentials(envelope.headers, project_id, credentials)
    check_limits(envelope, max_item_size=max_item_size)
    return EnvelopeRequest(envelope, credentials)


def header_credentials(
    body: bytes,
    codings: list[str],
    *,
    project_id: int,
    credentials: Credentials | None,
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
) -> Credentials:
    """The credentials once the envelope header's `dsn` is taken into account, decoding
    only the first line.

    Without request credentials this is source 5 (401 when unusable); with them, the
    header is framed and its `dsn` reconciled (400 when it disagrees).
    """
    chunks = decoded_chunks(body, codings, max_size=max_envelope_size)
    if credentials is None:
        return body_dsn_credentials(first_line(chunks), project_id)
    frames = frame_envelope(chunks, FrameLimits())
    envelope = next(frames)
    assert isinstance(envelope, Envelope)
    return dsn_credentials(envelope.headers, project_id, credentials)


def ingest_envelope(
    body: bytes,
    codings: list[str],
    *,
    project_id: int,
    credentials: Credentials,
    received_at: float,
    client_ip: str | None = None,
    user_agent: str | None = None,
    limits: IngestLimits = IngestLimits(),
) -> IngestedEnvelope:
    """Decode, frame and validate a request body in one lazy pass.

    Only `session` and `sessions` payloads are ever held, one at a time; the decoding
    stops at the first error or limit (IngestError: 400 framing, 413 limits, including
    more than `max_buckets` buckets in one `sessions` item).
    """
    frame_limits = FrameLimits(max_items=limits.max_items, max_item_size=limits.max_item_size)
    chunks = decoded_chunks(body, codings, max_size=limits.max_envelope_size)
    frames = frame_envelope(chunks, frame_limits)
    envelope = next(frames)
    assert isinstance(envelope, Envelope)
    dsn_credentials(envelope.headers, project_id, credentials)
    ctx = ItemContext(
        project_id=project_id,
        received_at=received_at,
        sent_at=envelope.sent_at,
        client_ip=client_ip,
        sdk_name=sdk_name_of(envelope.headers),
        user_agent=user_agent,
    )
    batches = []
    for item in frames:
        assert isinstance(item, EnvelopeItem)
        batches.append(_item_batch(item, ctx, limits.max_buckets))
    return IngestedEnvelope(response_body(envelope), batches)


def _item_batch(item: EnvelopeItem, ctx: ItemContext, max_buckets: int) -> WriteBatch:
    if item.type == "session":
        return session_item(item.payload, ctx)
    try:
        payload = json_object(item.payload, "sessions payload")
    except InvalidPayload:
        return sessions_item(item.payload, ctx)  # counted as `invalid_payload`
    aggregates = payload.get("aggregates")
    if type(aggregates) is list and len(aggregates) > max_buckets:
        raise too_large_for("sessions")
    return sessions_item(payload, ctx)
