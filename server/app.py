"""The ASGI application: routes, startup and shutdown."""

from __future__ import annotations

import contextlib
import hmac
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from server import dashboard
from server.clock import Clock, SystemClock
from server.comparison_endpoint import comparison_endpoint
from server.cors import CorsMiddleware, CorsPolicy
from server.dashboard import dashboard_file
from server.dashboard_auth import session_endpoint
from server.dashboard_operations import DashboardOperations
from server.envelope_endpoint import EnvelopeEndpoint, envelope_preflight
from server.graphql_endpoint import V1_SUNSET, GraphQLEndpoint
from server.import_endpoint import import_endpoint
from server.metrics import CONTENT_TYPE_LATEST, Metrics
from server.request_metrics import RequestMetricsMiddleware, RequestRecorder
from server.responses import JSONResponse, error
from server.services import Services
from server.sessions_endpoint import sessions_endpoint
from server.settings import Settings
from storage.accounts import AccountStore
from storage.engine import create_engine, is_sqlite, shares_one_database
from storage.readiness import check_writable
from storage.schema import ensure_schema
from storage.sql.committer import SqliteCommitter
from storage.store import SessionStore
from storage.writer import BatchWriter


async def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        await ensure_schema(engine)  # creates an empty database; refuses one behind or ahead
    except BaseException:
        await engine.dispose()
        raise
    clock = clock or SystemClock()
    # Writes make minute rows only within the minute retention, judged by the server clock.
    store_options: dict[str, Any] = {
        "minute_retention": settings.minute_retention_days * 86400,
        "now": clock.now,
        "dimension_values_per_project": settings.dimension_values_per_project,
    }
    store = SessionStore(engine, **store_options)
    # Ingest writes through its own small pool: queries, however many connections they
    # hold, never make an envelope wait for one.
    write_engine = None
    if not shares_one_database(settings.database_url):
        write_engine = create_engine(
            settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, writer=True
        )
    write_store = SessionStore(write_engine, **store_options) if write_engine else store
    committer = None
    if write_engine is not None and is_sqlite(settings.database_url):
        # A SQLite file: group commits on a thread of their own (storage/sql/committer.py).
        committer = SqliteCommitter(
            str(make_url(settings.database_url).database),
            write_store.writer,
            synchronous=settings.sqlite_synchronous,
        )
    return Services(
        settings=settings,
        engine=engine,
        store=store,
        accounts=AccountStore(engine),
        writer=BatchWriter(write_store, committer=committer),
        clock=clock,
        metrics=Metrics(),
        write_engine=write_engine,
    )


def create_app(settings: Settings, clock: Clock | None = None) -> RelhealthApp:
    holder: dict[str, Services] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await build_services(settings, clock)
        holder["services"] = services
        # Before the endpoints exist: the dashboard's first request finds its operations.
        text = dashboard_file("operations.graphql")
        services.dashboard_operations = DashboardOperations.parse(None if text is None else text.decode())
        await services.dashboard_operations.register(services.engine)
        app.state.services = services
        graphql.bind(services)
        envelope.bind(services)
        await services.writer.start()
        retention = services.retention_task()
        retention.start()
        alerting = services.alert_task()
        alerting.start()
        sender = services.webhook_sender()
        sender.start()
        hub = services.subscription_hub()
        await hub.broadcaster.start()
        services.subscriptions = hub
        try:
            yield
        finally:
            await hub.broadcaster.stop()
            await sender.stop()
            await alerting.stop()
            await retention.stop()
            await services.writer.stop()
            await services.engine.dispose()
            if services.write_engine is not None:
                await services.write_engine.dispose()

    graphql_v1 = _LazyGraphQL()
    graphql = _LazyGraphQL(v1=graphql_v1)
    envelope = EnvelopeEndpoint()
    recorder = RequestRecorder()
    routes = [
        Route("/api/{project_id}/envelope/", envelope, methods=["POST"]),
        Route("/api/{project_id}/envelope/", envelope_preflight, methods=["OPTIONS"]),
        Route("/api/{project_id}/envelope", envelope, methods=["POST"]),
        Route("/api/{project_id}/envelope", envelope_preflight, methods=["OPTIONS"]),
        Route("/api/0/organizations/{org}/sessions/", sessions_endpoint, methods=["GET"]),
        Route("/api/0/organizations/{org}/sessions/import/", import_endpoint, methods=["POST"]),
        Route(
            "/api/0/organizations/{org}/releases/{version:path}/comparison/",
            comparison_endpoint,
            methods=["GET"],
        ),
        Route("/auth/session", session_endpoint, methods=["GET", "POST", "DELETE"]),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        # Every method reaches the endpoint, which answers the others 405 in GraphQL JSON.
        Route("/graphql", graphql),
        # Subscriptions: graphql-transport-ws on the same path (server/graphql_ws.py).
        WebSocketRoute("/graphql", graphql.websocket),
        Route("/graphql/v1", graphql_v1),
        Mount("/static", StaticFiles(packages=[("server", "static")]), name="static"),
        # The dashboard: its page at / and at the addresses it routes, its assets and the
        # hashes of its persisted operations (server/dashboard.py).
        Route("/", dashboard.index, methods=["GET"]),
        Route("/releases/{anything:path}", dashboard.index, methods=["GET"]),
        Route("/dashboard/operations.json", dashboard.operations_json, methods=["GET"]),
        Mount("/dashboard", dashboard.assets(), name="dashboard"),
    ]
    app = RelhealthApp(routes=routes, lifespan=lifespan)
    app.envelope, app.recorder = envelope, recorder
    app.add_middleware(
        CorsMiddleware, policy=CorsPolicy.of(settings.cors_allowed_origins, settings.cors_max_age)
    )
    app.add_middleware(RequestMetricsMiddleware, services=holder, recorder=recorder)
    app.add_middleware(SlashFoldingMiddleware)
    return app


_ENVELOPE_PATH = re.compile(r"/api/([^/]+)/envelope/?")


class RelhealthApp(Starlette):
    """Starlette, with a fast path for the hot one of its routes: `POST /api/{id}/envelope/`
    goes straight to the envelope endpoint, past the middleware stack and the router
    (which cost a one-session envelope more event-loop time than its parsing). What the
    skipped middleware does for that path is done here or by the endpoint: the request
    metrics here, the error answer and CORS headers by the endpoint; the query-API CORS
    middleware does not cover the envelope path. Any other spelling of the path (runs of
    slashes, a root path) takes the ordinary way to the same endpoint."""

    envelope: EnvelopeEndpoint
    recorder: RequestRecorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            match = _ENVELOPE_PATH.fullmatch(scope["path"])
            services = self.envelope.services
            if match is not None and services is not None:
                scope["app"] = self
                started = time.perf_counter()
                status = 500
                try:
                    status = await self.envelope.handle(match[1], scope, receive, send)
                finally:
                    self.recorder.record(services.metrics, "envelope", "POST", status, started)
                return
        await super().__call__(scope, receive, send)


class _LazyGraphQL:
    """The GraphQL endpoints (v2 at /graphql, the frozen v1 at /graphql/v1) need the
    services, which exist only after startup."""

    def __init__(self, v1: _LazyGraphQL | None = None) -> None:
        self.endpoint: GraphQLEndpoint | None = None
        self.v1 = v1

    def bind(self, services: Services) -> None:
        self.endpoint = GraphQLEndpoint(services)
        if self.v1 is not None:
            from gql.v1.schema import build_v1_schema

            self.v1.endpoint = GraphQLEndpoint(
                services, build_v1_schema, budget=self.endpoint.app.budget, sunset=V1_SUNSET
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.endpoint is not None, "server not started"
        await self.endpoint(scope, receive, send)

    @property
    def websocket(self) -> ASGIApp:
        """The WebSocket side of the endpoint (an ASGI app: Starlette would wrap a method
        as a session function)."""
        return _LazyWebSocket(self)


class _LazyWebSocket:
    def __init__(self, graphql: _LazyGraphQL) -> None:
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.graphql.endpoint
        assert endpoint is not None, "server not started"
        await endpoint.app(scope, receive, send)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the database answers *and* takes writes (`storage.readiness`): a store
    that only reads would fail every ingest request while looking healthy."""
    services: Services = request.app.state.services
    try:
        await services.store.ping()
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
    try:
        await check_writable(services.write_engine or services.engine)
    except Exception as exc:
        return JSONResponse(
            {"status": "read-only", "detail": f"the database refuses writes ({type(exc).__name__})"},
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    """With `RELHEALTH_METRICS_TOKEN` set, the token is required and every series is shown;
    without one, the endpoint is open and shows no per-tenant series (`server.metrics`)."""
    services: Services = request.app.state.services
    expected = services.settings.metrics_token
    if expected:
        given = request.headers.get("authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, f"Bearer {expected}".encode()):
            return error(401, "Authentication credentials were not provided.")
    body = await services.metrics.render(
        services.store, services.writer.depth + services.writer.in_flight, per_tenant=bool(expected)
    )
    return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)


_SLASHES = re.compile(r"/{2,}")


class SlashFoldingMiddleware:
    """Fold runs of slashes (`//api//1/envelope/`), as Relay does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = dict(scope)
            scope["path"] = _SLASHES.sub("/", scope["path"])
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)
