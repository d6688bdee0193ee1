"""Everything the envelope endpoint checks before it may answer 200, in Relay's order.

Authentication from the request comes first (its errors win over body errors), then the
body is decoded, then the `dsn` fallback reads the decoded first line, then framing, the
`dsn` reconciliation and the size limits. The transport adds what needs state: key lookup
(403), rate limits (429) and the durable commit (503).
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
from ingest.encoding import decode_body
from ingest.envelope import DEFAULT_MAX_ITEM_SIZE, Envelope, check_limits, parse_envelope

DEFAULT_MAX_ENVELOPE_SIZE = 100 * 1024 * 1024


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
