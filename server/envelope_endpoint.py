"""POST /api/{project_id}/envelope/: the thin HTTP transport around `ingest`.

Order of checks (ingest.md sections 2-6 and 10), cheapest first, so that nothing is
decoded for a request that will be refused:

1. the path, the declared body size, the request's own credentials and the
   Content-Encoding (headers only);
2. the key lookup from the in-process key catalogue (403 for an unknown or disabled key,
   before the body is even read);
3. the body is read (bounded, and counted against the process's body budget); when the
   credentials come from the envelope header's `dsn`, or the key belongs to another
   project, only the first line is decoded to reconcile them (Relay answers a `dsn`
   disagreeing with the request before the key's project);
4. decoding, framing and validation run in one lazy pass, stopping at the first limit:
   in a worker thread, at most `ingest_concurrency` at a time, unless the body is small
   and not compressed (then on the event loop: see `INLINE_BODY_LIMIT`);
5. the per-project caps on new releases and environments, the quota, the durable commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from ingest.credentials import Credentials, request_credentials
from ingest.encoding import content_codings
from ingest.errors import IngestError
from ingest.items import merge_outcomes
from ingest.request import IngestLimits, header_credentials, ingest_envelope
from server.body_budget import BodyBudget
from server.quota import rate_limited, session_units, too_many_requests
from server.responses import JSONResponse
from server.services import Services
from storage.accounts import KeyInfo
from storage.types import WriteBatch

log = logging.getLogger(__name__)

_SIZE_LIMIT_DETAIL = "envelope exceeded size limits (https://develop.sentry.dev/sdk/envelopes/#size-limits)"

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


_FORBIDDEN = "event submission rejected with_reason: ProjectId"
#: Uncompressed bodies up to this size are parsed on the event loop. Handing one to a
#: worker thread and back (and the GIL between them) cost more than parsing it: a
#: one-session envelope (~450 bytes) parses in ~45 us, an SDK's 20-bucket aggregate flush
#: (~2 KiB) in ~110 us. The worst 4 KiB body measured (hundreds of empty items) holds the
#: loop ~0.6 ms; without a content encoding the decoded envelope is the body itself, so
#: no small body expands into a large one.
INLINE_BODY_LIMIT = 4 * 1024
_T = TypeVar("_T")


async def _accept(request: Request, services: Services, received_at: float) -> dict[str, str]:
    settings = services.settings
    raw_project = request.path_params["project_id"]
    if not raw_project.isdigit() or not raw_project.isascii():
        raise IngestError(400, "bad project path parameter")
    project_id = int(raw_project)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_body_size:
        raise IngestError(413, _SIZE_LIMIT_DETAIL)

    headers = {k.lower(): v for k, v in request.headers.items()}
    # Most SDKs authenticate by header: an empty query string needs no parsing.
    query = list(request.query_params.multi_items()) if request.scope.get("query_string") else []
    credentials = request_credentials(headers, query)
    codings = content_codings(headers.get("content-encoding"))
    key: KeyInfo | None = None
    if credentials is not None:
        key = await _lookup(services, credentials.public_key)
        if key is None or not key.is_active:
            raise IngestError(403, _FORBIDDEN)

    held = [0]  # bytes of this body counted against the process's body budget
    try:
        return await _process(request, services, received_at, project_id, credentials, key, codings, held)
    finally:
        services.body_budget.give(held[0])


async def _process(
    request: Request,
    services: Services,
    received_at: float,
    project_id: int,
    credentials: Credentials | None,
    key: KeyInfo | None,
    codings: list[str],
    held: list[int],
) -> dict[str, str]:
    settings = services.settings
    raw = await _read_body(request, settings.max_body_size, services.body_budget, held)
    if credentials is None or (key is not None and key.project_id != project_id):
        credentials = await _off_loop(
            services,
            raw,
            codings,
            lambda: header_credentials(
                raw,
                codings,
                project_id=project_id,
                credentials=credentials,
                max_envelope_size=settings.max_envelope_size,
            ),
        )
        key = await _lookup(services, credentials.public_key)
    if key is None or not key.is_active or key.project_id != project_id:
        raise IngestError(403, _FORBIDDEN)

    found: Credentials = credentials
    limits = IngestLimits(
        max_envelope_size=settings.max_envelope_size,
        max_item_size=settings.max_session_item_size,
        max_items=settings.max_envelope_items,
        max_buckets=settings.max_session_buckets,
    )
    client_ip = _client_ip(request)
    ingested = await _off_loop(
        services,
        raw,
        codings,
        lambda: ingest_envelope(
            raw,
            codings,
            project_id=project_id,
            credentials=found,
            received_at=received_at,
            client_ip=client_ip,
            user_agent=request.headers.get("user-agent"),
            limits=limits,
        ),
    )
    items = await services.series_limit.admit(project_id, ingested.items, received_at)
    batch = WriteBatch()
    for item in items:
        batch.extend(item)
    batch.outcomes = merge_outcomes(batch.outcomes)

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
    return ingested.response


async def _lookup(services: Services, public_key: str) -> KeyInfo | None:
    try:
        return await services.keys.lookup(public_key)
    except Exception:
        log.exception("could not load the DSN keys")
        raise IngestError(503, "failed to queue envelope") from None


async def _off_loop(services: Services, raw: bytes, codings: list[str], work: Callable[[], _T]) -> _T:
    """Run CPU work (decoding, parsing) of the body `raw` in a worker thread,
    `ingest_concurrency` at a time, so the event loop keeps serving every other request
    meanwhile; a small uncompressed body is done on the loop (`INLINE_BODY_LIMIT`)."""
    if not codings and len(raw) <= INLINE_BODY_LIMIT:
        return work()
    async with services.ingest_slots:
        return await asyncio.to_thread(work)


def _apply_quota(services: Services, project_id: int, batch: WriteBatch, received_at: float) -> int | None:
    """Seconds until the project's session quota frees up when this envelope is over it."""
    quota = services.quota
    units = session_units(batch)
    if quota is None or not units:
        return None
    retry = quota.retry_after(project_id, received_at)
    if retry is None and not quota.consume(project_id, units, received_at):
        retry = quota.retry_after(project_id, received_at)
    return retry


async def _read_body(request: Request, limit: int, budget: BodyBudget, held: list[int]) -> bytes:
    """The body, at most `limit` bytes; twice its size is counted in `held` against the
    budget (the chunks, then the joined copy)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(413, _SIZE_LIMIT_DETAIL)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, _SIZE_LIMIT_DETAIL)
        if not budget.take(2 * len(chunk)):
            raise IngestError(503, "failed to queue envelope")
        held[0] += 2 * len(chunk)
        chunks.append(chunk)
    return b"".join(chunks)


def _client_ip(request: Request) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.client.host if request.client else None
