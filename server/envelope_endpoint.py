"""POST /api/{project_id}/envelope/: the thin HTTP transport around `ingest`.

Order of checks (ingest.md sections 2-6 and 10): path, body size, then `ingest.request`
(credentials, decoding, `dsn` fallback, framing, limits), then the key lookup; then the
items are validated and the resulting batch is committed before the 200 answer.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from ingest.envelope import response_body
from ingest.errors import IngestError
from ingest.items import ItemContext, envelope_batch
from ingest.request import read_envelope_request
from server.quota import rate_limited, session_units, too_many_requests
from server.responses import JSONResponse
from server.services import Services
from storage.types import WriteBatch

log = logging.getLogger(__name__)

_SIZE_LIMIT_DETAIL = (
    "envelope exceeded size limits (https://develop.sentry.dev/sdk/envelopes/#size-limits)"
)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "x-sentry-error, x-sentry-rate-limits, retry-after",
}
_PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": (
        "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, "
        "content-type, authentication, authorization, content-encoding, transfer-encoding"
    ),
    "Access-Control-Max-Age": "3600",
}


async def envelope_preflight(request: Request) -> Response:
    return Response(status_code=200, headers=_PREFLIGHT_HEADERS)


async def envelope_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    received_at = services.clock.now()
    try:
        body = await _accept(request, services, received_at)
    except IngestError as exc:
        headers = {**CORS_HEADERS, **exc.headers, "X-Sentry-Error": exc.detail}
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
    return JSONResponse(body, headers=CORS_HEADERS)


async def _accept(request: Request, services: Services, received_at: float) -> dict[str, str]:
    settings = services.settings
    raw_project = request.path_params["project_id"]
    if not raw_project.isdigit() or not raw_project.isascii():
        raise IngestError(400, "bad project path parameter")
    project_id = int(raw_project)

    raw = await _read_body(request, settings.max_body_size)
    parsed = read_envelope_request(
        project_id=project_id,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=list(request.query_params.multi_items()),
        body=raw,
        max_envelope_size=settings.max_envelope_size,
        max_item_size=settings.max_session_item_size,
    )
    envelope = parsed.envelope
    key = await services.accounts.key(parsed.credentials.public_key)
    if key is None or not key.is_active or key.project_id != project_id:
        raise IngestError(403, "event submission rejected with_reason: ProjectId")

    ctx = ItemContext(
        project_id=project_id,
        received_at=received_at,
        sent_at=envelope.sent_at,
        client_ip=_client_ip(request),
    )
    batch = envelope_batch(envelope, ctx)
    limited = _apply_quota(services, project_id, batch, received_at)
    if limited is not None:
        batch = rate_limited(batch)
    try:
        await services.writer.write(batch)
    except Exception:
        log.exception("could not commit envelope for project %s", project_id)
        raise IngestError(503, "failed to queue envelope") from None
    if limited is not None:
        # Relay answers 429 whenever a limit is active for the envelope's items; the drops
        # were committed above, so they stay counted.
        raise too_many_requests(limited)
    return response_body(envelope)


def _apply_quota(
    services: Services, project_id: int, batch: WriteBatch, received_at: float
) -> int | None:
    """Seconds until the project's session quota frees up when this envelope is over it."""
    quota = services.quota
    units = session_units(batch)
    if quota is None or not units:
        return None
    retry = quota.retry_after(project_id, received_at)
    if retry is None and not quota.consume(project_id, units, received_at):
        retry = quota.retry_after(project_id, received_at)
    return retry


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(413, _SIZE_LIMIT_DETAIL)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, _SIZE_LIMIT_DETAIL)
        chunks.append(chunk)
    return b"".join(chunks)


def _client_ip(request: Request) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.client.host if request.client else None
