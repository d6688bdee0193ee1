"""/graphql: GraphiQL for browsers, Bearer-token auth for everything that executes."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from gql.budget import CostBudget
from gql.cache import DocumentCache
from gql.context import Context
from gql.cost import CostLimits
from gql.schema import GraphQLLimits, build_schema
from server.auth import authenticate
from server.responses import JSONResponse
from server.services import Services

# GraphiQL with its assets served by relhealth itself (no CDN): it works offline.
GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"


TIMEOUT = "TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


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
    def __init__(self, services: Services) -> None:
        self.limits = limits = graphql_limits(services)
        self.cache = DocumentCache(limits.cache_bytes)
        self.budget = CostBudget(limits.budget, limits.budget_window)
        schema = build_schema(limits, cache=self.cache, budget=self.budget)
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.services = services
        self.options = services.query_options
        self.timeout = services.settings.graphql_timeout_seconds

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError:  # nested deeper than the decoder recurses: still a bad body
            raise HTTPException(400, "Unable to parse request body as JSON") from None

    async def get_context(self, request: Any, response: Any) -> Context:
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
        )

    async def execute_single(  # type: ignore[override]
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Cancellation reaches the resolvers at their next await (database calls); the
        # synchronous completion of an answer is bounded by the cost maximum instead.
        try:
            async with asyncio.timeout(self.timeout):
                return await super().execute_single(
                    request=request,
                    request_adapter=request_adapter,
                    sub_response=sub_response,
                    context=context,
                    root_value=root_value,
                    request_data=request_data,
                )
        except TimeoutError:
            sub_response.status_code = 503
            return ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        f"The query did not finish within {self.timeout:g} s; ask for less.",
                        extensions={"code": TIMEOUT},
                    )
                ],
            )


class GraphQLEndpoint:
    """Serves GraphiQL to browsers without a token (the page itself holds no data) and
    requires `Authorization: Bearer <token>` for every operation."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.app = RelhealthGraphQL(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "GET" and _wants_html(request) and "query" not in request.query_params:
            await FileResponse(GRAPHIQL_PAGE, media_type="text/html")(scope, receive, send)
            return
        token, problem = await authenticate(request, self.services.accounts)
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
        scope["relhealth.token_key"] = _token_key(request)
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
