"""The ingest baseline: a bare Starlette endpoint that accepts the same envelope bodies
on the same path and does nothing with them (it reads the body and answers 200 with a
JSON body, as relhealth does). Served by uvicorn with the same options as relhealth."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def envelope(request: Request) -> Response:
    await request.body()
    return JSONResponse({})


async def ready(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/api/{project_id}/envelope/", envelope, methods=["POST"]),
        Route("/readyz", ready),
    ]
)
