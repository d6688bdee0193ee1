"""/graphql (the current API, v2) and /graphql/v1 (the frozen v1 until its sunset): GraphiQL
for browsers, Bearer-token auth for everything that executes."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLRequestData, GraphQLRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from gql.allowlist import Allowlist
from gql.core.budget import CostBudget
from gql.core.cache import DocumentCache, on_accepted
from gql.core.context import Context
from gql.core.cost import CostLimits
from gql.persisted import PersistedQueryError, QueryStore
from gql.schema import GraphQLLimits, build_schema
from server.auth import authenticate
from server.dashboard_auth import CSRF_HEADER, csrf_matches, find_session, grant_token, session_cookie
from server.graphql_persisted import PersistedQueries, persisted_status
from server.graphql_protocol import (
    BAD_REQUEST,
    BATCH_TOO_LARGE,
    BATCHING_NOT_ENABLED,
    NO_STORE,
    VARY,
    ProtocolError,
    encode_json,
    error_response,
    etag,
    matches,
    request_data,
)
from server.graphql_ws import CappedWebSocketAdapter, SocketState, TransportWSHandler, connect, refuse_legacy
from server.responses import JSONResponse
from server.services import Services
from storage.accounts import TokenInfo

# GraphiQL with its assets served by relhealth itself (no CDN): it works offline.
GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"


#: When /graphql/v1 was deprecated (RFC 9745 `Deprecation`, a structured-field date:
#: 2026-12-04T00:00:00Z) and when it stops answering (RFC 8594 `Sunset`); the CHANGELOG
#: announces both.
V1_DEPRECATED = "@1796342400"
V1_SUNSET = "Wed, 30 Jun 2027 00:00:00 GMT"
#: Where its successor answers (RFC 5829 `successor-version`); the CHANGELOG's migration
#: table says which v2 field replaces each v1 field.
V1_MIGRATION = '</graphql>; rel="successor-version"'

#: Builds the schema an endpoint serves, from the limits and the shared cost budget.
SchemaBuilder = Callable[..., Any]

TIMEOUT = "TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
CSRF = "CSRF"


def graphql_limits(services: Services) -> GraphQLLimits:
    s = services.settings
    return GraphQLLimits(
        max_depth=s.graphql_max_depth,
        max_aliases=s.graphql_max_aliases,
        cost=CostLimits(
            max_cost=s.graphql_max_cost,
            assumed_list_size=s.graphql_assumed_list_size,
            max_data_points=s.max_data_points,
        ),
        budget=s.graphql_cost_budget,
        budget_window=s.graphql_cost_window,
        max_tokens=s.graphql_max_tokens,
        max_length=s.graphql_max_body_size,
        cache_bytes=s.graphql_cache_bytes,
    )


class RelhealthGraphQL(GraphQL[Context, None]):
    def __init__(
        self, services: Services, build: SchemaBuilder = build_schema, budget: CostBudget | None = None
    ) -> None:
        self.limits = limits = graphql_limits(services)
        # One document cache per schema (a cached document was validated against it); the
        # cost budget is the token's, whichever version it spends it on.
        self.cache = DocumentCache(limits.cache_bytes)
        self.budget = budget if budget is not None else CostBudget(limits.budget, limits.budget_window)
        schema = build(limits, cache=self.cache, budget=self.budget)
        settings = services.settings
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.subscription_init_timeout_seconds),
            max_subscriptions_per_connection=settings.subscription_max_per_connection,
        )
        self.services = services
        self.settings = settings
        self.options = services.query_options
        self.timeout = settings.graphql_timeout_seconds
        self.persisted = PersistedQueries(
            QueryStore(settings.graphql_apq_cache_bytes) if settings.graphql_apq else None,
            Allowlist(services.engine, settings.graphql_allowlist_refresh_seconds)
            if settings.graphql_allowlist
            else None,
            services.dashboard_operations.by_hash,
        )

    graphql_transport_ws_handler_class = TransportWSHandler
    websocket_adapter_class = CappedWebSocketAdapter  # type: ignore[assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # server/graphql_ws.py: subscriptions over graphql-transport-ws.
            if not await refuse_legacy(scope, receive, send):
                await self.run(WebSocket(scope, receive, send))  # type: ignore[arg-type]
            return
        # Strawberry answers its HTTP errors in plain text; GraphQL clients expect JSON.
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # GraphQLEndpoint serves relhealth's own GraphiQL page

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError:  # nested deeper than the decoder recurses: still a bad body
            raise HTTPException(400, "Unable to parse request body as JSON") from None

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        transport = self._get_stream_transport_from_headers(request.headers)
        protocol: GraphQLRequestProtocol = transport.protocol if transport else "http"
        if request.method == "GET":
            return request_data(self.parse_query_params(request.query_params), protocol)
        content_type, _ = parse_content_type(request.content_type or "")
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise ProtocolError(415, "Send operations as JSON, with `Content-Type: application/json`.")
        data = self.parse_json(await request.get_body())
        if not isinstance(data, list):
            return request_data(data, protocol)
        s = self.settings
        if not s.graphql_batching:
            raise ProtocolError(
                400, "Batching is off on this server: send one operation per request.", BATCHING_NOT_ENABLED
            )
        if transport is not None:
            raise ProtocolError(400, transport.batching_error)
        if not 0 < len(data) <= s.graphql_batch_max_operations:
            raise ProtocolError(
                400,
                f"A batch holds 1 to {s.graphql_batch_max_operations} operations; this one has {len(data)}.",
                BATCH_TOO_LARGE,
            )
        return [request_data(item, protocol, f"Operation {i} of the batch: ") for i, item in enumerate(data)]

    async def on_ws_connect(self, context: Any) -> None:
        await connect(self, context)

    async def get_context(self, request: Any, response: Any) -> Any:
        if isinstance(request, WebSocket):
            return SocketState()  # each operation gets a Context (server/graphql_ws.py)
        services = self.services
        return Context(
            store=services.store,
            accounts=services.accounts,
            options=self.options,
            token=request.scope["relhealth.token"],
            now=services.clock.now(),
            request=request,
            response=response,
            budget_key=request.scope.get("relhealth.token_key", ""),
            max_cost=self.limits.cost.max_cost,
            webhook_allow_private=services.settings.webhook_allow_private,
        )

    async def run(  # type: ignore[override]
        self, request: Request, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response:
        response = await super().run(request, context, root_value)
        if isinstance(request, WebSocket):
            return response  # the socket is closed by now
        tag = response.headers.get("etag")
        if request.method != "GET":
            if tag is not None:
                del response.headers["etag"]
            return response
        # GET answers are cacheable by the caller only (they depend on the token), and
        # only when they hold no error.
        if tag is None:
            response.headers["Cache-Control"] = NO_STORE
            return response
        age = self.settings.graphql_get_max_age
        headers = {
            "Cache-Control": f"private, max-age={age}" if age else "private, no-cache",
            "Vary": VARY,
            "ETag": tag,
        }
        response.headers.update(headers)
        if matches(request.headers.get("if-none-match", ""), tag):
            return Response(status_code=304, headers=headers)
        return response

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # Read by `create_response`, which is not given the request.
        sub_response.cacheable = request.scope.get("method") == "GET"  # type: ignore[attr-defined]
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        ok = isinstance(response_data, dict) and not response_data.get("errors")
        if ok and response.status_code == 200 and getattr(sub_response, "cacheable", False):
            # Only a GET answer is validated (`run`): hashing a POST answer's data was work
            # thrown away.
            response.headers["ETag"] = etag(response_data.get("data"))
        return response

    async def execute_operation(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Any,
    ) -> Any:
        if not isinstance(request_data, list):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )

        async def one(data: GraphQLRequestData) -> ExecutionResult:
            # Each operation of a batch has its own context (its own loaders, cost and
            # status): it is charged to the token's budget like a request of its own.
            own_response = await self.get_sub_response(request)
            own_context = await self.get_context(request, own_response)
            try:
                return await self.execute_single(
                    request, request_adapter, own_response, own_context, root_value, data
                )
            except HTTPException as exc:
                code = exc.code if isinstance(exc, ProtocolError) else BAD_REQUEST
                return _error_result(exc.reason, code)

        return list(await asyncio.gather(*[one(data) for data in request_data]))

    async def execute_single(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            request_data, register = await self.persisted.resolve(request_data, context.token)
        except PersistedQueryError as exc:
            sub_response.status_code = persisted_status(exc.code)
            return _error_result(exc.message, exc.code)
        # Cancellation reaches the resolvers at their next await (database calls); the
        # synchronous completion of an answer is bounded by the cost maximum instead.
        reset = on_accepted.set(register)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._execute(request_adapter, context, request_data)
        except TimeoutError:
            sub_response.status_code = 503
            message = f"The query did not finish within {self.timeout:g} s; ask for less."
            return _error_result(message, TIMEOUT)
        finally:
            on_accepted.reset(reset)

    async def _execute(
        self, request_adapter: Any, context: Context, request_data: GraphQLRequestData
    ) -> ExecutionResult:
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                # Subscriptions are served over WebSocket only (server/graphql_ws.py).
                allowed_operation_types=OperationType.from_http(method) - {OperationType.SUBSCRIPTION},
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as exc:
            if exc.operation_type is OperationType.SUBSCRIPTION:
                message = "Subscriptions are served over WebSocket at /graphql (graphql-transport-ws)."
                raise ProtocolError(400, message) from None
            if method == "GET":
                message = "Only queries may be sent with GET; send this operation with POST."
                raise ProtocolError(405, message, headers={"Allow": "POST"}) from None
            raise ProtocolError(400, exc.as_http_error_reason(method)) from None
        except CannotGetOperationTypeError as exc:
            raise ProtocolError(400, exc.as_http_error_reason()) from None
        except MissingQueryError:
            raise ProtocolError(
                400,
                "No GraphQL query found in the request: send `query`, or "
                "`extensions.persistedQuery` with the hash of a persisted one.",
            ) from None


def _error_result(message: str, code: str) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": code})])


class GraphQLEndpoint:
    """Serves GraphiQL to browsers without a token (the page itself holds no data) and
    requires `Authorization: Bearer <token>`, or a dashboard session cookie, for every
    operation."""

    def __init__(
        self,
        services: Services,
        build: SchemaBuilder = build_schema,
        *,
        budget: CostBudget | None = None,
        sunset: str | None = None,
    ) -> None:
        self.services = services
        self.app = RelhealthGraphQL(services, build, budget)
        #: Set for a deprecated version: every answer carries `Deprecation` and `Sunset`.
        self.sunset = sunset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sunset is None:
            await self.serve(scope, receive, send)
            return
        sunset = self.sunset

        async def announcing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"deprecation", V1_DEPRECATED.encode()),
                        (b"sunset", sunset.encode()),
                        (b"link", V1_MIGRATION.encode()),
                    ],
                }
            await send(message)

        await self.serve(scope, receive, announcing)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method not in ("GET", "POST"):
            refusal = ProtocolError(
                405, "/graphql takes GET (queries) and POST.", headers={"Allow": "GET, POST"}
            )
            await error_response(refusal)(scope, receive, send)
            return
        params = request.query_params
        if request.method == "GET" and _wants_html(request) and not {"query", "extensions"} & params.keys():
            await FileResponse(GRAPHIQL_PAGE, media_type="text/html")(scope, receive, send)
            return
        token, problem, csrf_refusal = await self._authenticate(request)
        if csrf_refusal is not None:
            await csrf_refusal(scope, receive, send)
            return
        if token is None:
            response: Response = JSONResponse(
                {"errors": [{"message": problem, "extensions": {"code": "UNAUTHENTICATED"}}]},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="relhealth"'},
            )
            await response(scope, receive, send)
            return
        if not token.can_read():
            response = JSONResponse(
                {
                    "errors": [
                        {
                            "message": "This token lacks the org:read scope.",
                            "extensions": {"code": "FORBIDDEN"},
                        }
                    ]
                },
                status_code=403,
            )
            await response(scope, receive, send)
            return
        scope["relhealth.token"] = token
        scope.setdefault("relhealth.token_key", _token_key(request))
        if request.method == "POST":
            body = await _read_body(receive, self.services.settings.graphql_max_body_size, request)
            if body is None:
                limit = self.services.settings.graphql_max_body_size
                await JSONResponse(
                    {
                        "errors": [
                            {
                                "message": f"The request body exceeds {limit} bytes.",
                                "extensions": {"code": PAYLOAD_TOO_LARGE},
                            }
                        ]
                    },
                    status_code=413,
                )(scope, receive, send)
                return
            receive = _replay(body, receive)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.services.metrics.query_latency.labels("graphql").observe(time.perf_counter() - started)

    async def _authenticate(self, request: Request) -> tuple[TokenInfo | None, str, Response | None]:
        """The Bearer token's grants; without an `Authorization` header, the dashboard
        session's (`server/dashboard_auth.py`), whose POSTs must carry its CSRF token (a
        GET cannot run a mutation, and another site's page cannot read its answer)."""
        if "authorization" in request.headers or session_cookie(request) is None:
            token, problem = await authenticate(request, self.services.accounts)
            return token, problem, None
        grant = await find_session(request, self.services)
        if grant is None:
            return None, "The dashboard session has ended: sign in again.", None
        if request.method == "POST" and not csrf_matches(request, grant):
            message = f"A request signed in by the session cookie must carry its CSRF token in {CSRF_HEADER}."
            refusal = JSONResponse(
                {"errors": [{"message": message, "extensions": {"code": CSRF}}]}, status_code=403
            )
            return None, message, refusal
        # The budget key of the token, as when it is sent as a Bearer token (`_token_key`).
        request.scope["relhealth.token_key"] = grant.token_hash[:32]
        return grant_token(grant), "", None


def _token_key(request: Request) -> str:
    """Budgets are per token: keyed by a hash, so the secret itself is not kept."""
    header = request.headers.get("authorization", "")
    return hashlib.sha256(header.partition(" ")[2].strip().encode()).hexdigest()[:32]


async def _read_body(receive: Receive, limit: int, request: Request) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes (from
    Content-Length, or while it streams in): never more than `limit` bytes in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
