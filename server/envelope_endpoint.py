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
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ingest.credentials import Credentials, request_credentials
from ingest.encoding import content_codings
from ingest.errors import IngestError
from ingest.items import merge_outcomes
from ingest.request import header_credentials, ingest_envelope
from server.body_budget import BodyBudget
from server.quota import rate_limited, session_units, too_many_requests
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
_JSON = (b"content-type", b"application/json")
_RAW_CORS_HEADERS = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in CORS_HEADERS.items()]
#: What the status of a request whose client went away before its body arrived is counted
#: as in the request metrics (nothing is answered).
CLIENT_CLOSED = 499


async def envelope_preflight(request: Request) -> Response:
    return Response(status_code=200, headers=_PREFLIGHT_HEADERS)


class _Disconnected(Exception):
    """The client went away before its whole body arrived."""


class EnvelopeEndpoint:
    """The endpoint as a raw ASGI app: no Request or Response objects, routing or
    middleware, which were most of a one-session envelope's cost on the event loop.
    `server.app.RelhealthApp` calls `handle` directly for `POST /api/{id}/envelope/`;
    other spellings of the path (runs of slashes, a root path) reach it through Starlette's
    router, as `__call__`. Its answers are those of a Starlette JSON response: the same
    headers, CORS included, and a 500 for an unexpected error, as Starlette's error
    middleware sends."""

    def __init__(self) -> None:
        self.services: Services | None = None

    def bind(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope["path_params"]["project_id"], scope, receive, send)

    async def handle(self, raw_project: str, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one request; the status answered (`CLIENT_CLOSED`: none)."""
        services = self.services
        assert services is not None, "server not started"
        received_at = services.clock.now()
        try:
            body = await _accept(raw_project, scope, receive, services, received_at)
        except IngestError as exc:
            headers = {**CORS_HEADERS, **exc.headers, "X-Sentry-Error": exc.detail}
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await _respond(send, exc.status, orjson.dumps(exc.body()), raw)
            return exc.status
        except _Disconnected:
            return CLIENT_CLOSED
        except Exception:
            await _respond(
                send, 500, b"Internal Server Error", [(b"content-type", b"text/plain; charset=utf-8")], None
            )
            raise
        await _respond(send, 200, orjson.dumps(body), _RAW_CORS_HEADERS)
        return 200


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    content_type: tuple[bytes, bytes] | None = _JSON,
) -> None:
    raw = [*headers, (b"content-length", str(len(body)).encode())]
    if content_type is not None:
        raw.append(content_type)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


_FORBIDDEN = "event submission rejected with_reason: ProjectId"
#: Uncompressed bodies up to this size are parsed on the event loop. Handing one to a
#: worker thread and back (and the GIL between them) cost more than parsing it: a
#: one-session envelope (~450 bytes) parses in ~45 us, an SDK's 20-bucket aggregate flush
#: (~2 KiB) in ~110 us. The worst 4 KiB body measured (hundreds of empty items) holds the
#: loop ~0.6 ms; without a content encoding the decoded envelope is the body itself, so
#: no small body expands into a large one.
INLINE_BODY_LIMIT = 4 * 1024
_T = TypeVar("_T")


class _Incoming:
    """What the endpoint reads of the request's scope, with Starlette's meanings: `headers`
    by lower-case name, the last of repeated ones (as the credential rules take them),
    `first` the first of repeated ones (as `Request.headers.get` gives)."""

    __slots__ = ("client_ip", "content_length", "headers", "query", "user_agent")

    def __init__(self, scope: Scope) -> None:
        raw = scope["headers"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        first = headers
        if len(headers) != len(raw):  # a repeated name: rare, so only then a second pass
            first = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in reversed(raw)}
        self.headers = headers
        self.content_length = first.get("content-length")
        self.user_agent = first.get("user-agent")
        forwarded = first.get("x-forwarded-for")
        client = scope.get("client")
        if forwarded:
            self.client_ip: str | None = forwarded.split(",")[0].strip() or None
        else:
            self.client_ip = client[0] if client else None
        # Most SDKs authenticate by header: an empty query string needs no parsing.
        query_string = scope.get("query_string")
        self.query = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if query_string else []


async def _accept(
    raw_project: str, scope: Scope, receive: Receive, services: Services, received_at: float
) -> dict[str, str]:
    settings = services.settings
    if not raw_project.isdigit() or not raw_project.isascii():
        raise IngestError(400, "bad project path parameter")
    project_id = int(raw_project)
    request = _Incoming(scope)
    declared = request.content_length
    if declared is not None and declared.isdigit() and int(declared) > settings.max_body_size:
        raise IngestError(413, _SIZE_LIMIT_DETAIL)

    credentials = request_credentials(request.headers, request.query)
    codings = content_codings(request.headers.get("content-encoding"))
    key: KeyInfo | None = None
    if credentials is not None:
        key = await _lookup(services, credentials.public_key)
        if key is None or not key.is_active:
            raise IngestError(403, _FORBIDDEN)

    held = [0]  # bytes of this body counted against the process's body budget
    try:
        raw = await _read_body(receive, settings.max_body_size, services.body_budget, held)
        return await _process(raw, request, services, received_at, project_id, credentials, key, codings)
    finally:
        services.body_budget.give(held[0])


async def _process(
    raw: bytes,
    request: _Incoming,
    services: Services,
    received_at: float,
    project_id: int,
    credentials: Credentials | None,
    key: KeyInfo | None,
    codings: list[str],
) -> dict[str, str]:
    settings = services.settings
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
    limits = services.ingest_limits
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
            client_ip=request.client_ip,
            user_agent=request.user_agent,
            limits=limits,
        ),
    )
    items = await services.series_limit.admit(project_id, ingested.items, received_at)
    batch = items[0] if len(items) == 1 else WriteBatch()
    if len(items) != 1:
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


async def _read_body(receive: Receive, limit: int, budget: BodyBudget, held: list[int]) -> bytes:
    """The body, at most `limit` bytes; twice its size is counted in `held` against the
    budget (the chunks, then the joined copy)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            if message["type"] == "http.disconnect":
                raise _Disconnected
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise IngestError(413, _SIZE_LIMIT_DETAIL)
            if not budget.take(2 * len(chunk)):
                raise IngestError(503, "failed to queue envelope")
            held[0] += 2 * len(chunk)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
