"""ASGI entry point for uvicorn (`server.asgi:app_factory`, a factory): settings are read
from the environment when a worker starts, never at import time."""

from __future__ import annotations

import gc

from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings

#: The cyclic collector's first threshold in a server process (CPython's default: 700).
#: Every request allocates thousands of short-lived objects (parsed envelopes, rows,
#: GraphQL results) that reference counting frees on its own; at 700 allocations per
#: young-generation pass the collector ran several times per one-session envelope, about
#: 8 % of the ingest event loop's time (`python -m bench.ingest_only`: 0.48-0.51 of bare
#: Starlette at 700, 0.55 at 20,000). Memory stays bounded: only objects in reference
#: cycles wait longer, and at most 20,000 allocations longer.
GC_THRESHOLD = 20_000


def app_factory() -> Starlette:
    _threshold0, threshold1, threshold2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, threshold1, threshold2)
    return create_app(Settings())
