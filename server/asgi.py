"""ASGI entry point for uvicorn (`server.asgi:app_factory`, a factory): settings are read
from the environment when a worker starts, never at import time."""

from __future__ import annotations

from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings


def app_factory() -> Starlette:
    return create_app(Settings())
