"""/graphql: GraphiQL for browsers, Bearer-token auth for everything that executes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from gql.context import Context
from gql.schema import build_schema
from server.auth import authenticate
from server.responses import JSONResponse
from server.services import Services

# GraphiQL with its assets served by relhealth itself (no CDN): it works offline.
GRAPHIQL_PAGE = Path(__file__).parent / "static" / "graphiql.html"


class RelhealthGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        settings = services.settings
        schema = build_schema(
            max_depth=settings.graphql_max_depth, max_aliases=settings.graphql_max_aliases
        )
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.services = services
        self.options = services.query_options

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
                {"errors": [{"message": "This token lacks the org:read scope.",
                             "extensions": {"code": "FORBIDDEN"}}]},
                status_code=403,
            )
            await response(scope, receive, send)
            return
        scope["relhealth.token"] = token
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.services.metrics.query_latency.labels("graphql").observe(
                time.perf_counter() - started
            )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
