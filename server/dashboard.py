"""Serving the dashboard (README "Dashboard"): the single page at `/` and at every
`/releases/...` address (the page routes itself), its assets under `/dashboard/`, and
the hashes of its persisted operations at `/dashboard/operations.json`.

Everything here carries a strict Content-Security-Policy: scripts, styles and requests
only from relhealth itself (no inline script, no CDN), no framing, no `<base>`; with
`nosniff` a file is never run as a type it was not served as, and `no-referrer` keeps
the page's addresses (release names) out of other sites' logs."""

from __future__ import annotations

from importlib.resources import files
from pathlib import PurePosixPath

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.responses import JSONResponse
from server.services import Services

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Types by suffix, whatever the host's mime.types says (some map `.js` to
#: `application/javascript`; browsers load modules of either, the HTML spec names this one).
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".graphql": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


def dashboard_file(name: str) -> bytes | None:
    """A file of the packaged dashboard (`server/static/dashboard/`), or None."""
    resource = files("server").joinpath("static", "dashboard", name)
    return resource.read_bytes() if resource.is_file() else None


async def index(request: Request) -> Response:
    """The page itself, for `/` and every address the page routes (`/releases/...`)."""
    body = dashboard_file("index.html")
    if body is None:
        return Response("The dashboard is not installed.", 404, headers=SECURITY_HEADERS)
    # Revalidated on every load: a new relhealth serves its new page at once.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


async def operations_json(request: Request) -> Response:
    """`{operationName: {"sha256Hash", "query"}}` of the dashboard's operations, hashed by
    the server as it registers them (`server/dashboard_operations.py`)."""
    services: Services = request.app.state.services
    return JSONResponse(
        services.dashboard_operations.published(),
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )


class DashboardAssets:
    """`/dashboard/...`: the packaged files, with the security headers and the types above."""

    def __init__(self, directory: str | None = None) -> None:
        # `directory` only for tests; relhealth serves the packaged files.
        self.files = (
            StaticFiles(directory=directory)
            if directory is not None
            else StaticFiles(packages=[("server", "static/dashboard")])
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        suffix = PurePosixPath(scope["path"]).suffix.lower()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(SECURITY_HEADERS)
                if message["status"] in (200, 206) and suffix in CONTENT_TYPES:
                    headers["Content-Type"] = CONTENT_TYPES[suffix]
            await send(message)

        try:
            await self.files(scope, receive, with_headers)
        except HTTPException as exc:  # 404 / 405: answered here, with the headers too
            response = PlainTextResponse(exc.detail, exc.status_code, headers=SECURITY_HEADERS)
            await response(scope, receive, send)


def assets(directory: str | None = None) -> ASGIApp:
    return DashboardAssets(directory)
