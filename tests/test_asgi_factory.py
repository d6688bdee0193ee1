"""uvicorn's entry point (`server.asgi:app_factory`) reads its settings from the
environment and tunes the process's cyclic garbage collector for a server."""

from __future__ import annotations

import gc

import pytest

from server import asgi


def test_the_factory_reads_the_environment_and_raises_the_gc_threshold(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = gc.get_threshold()
    monkeypatch.setenv("RELHEALTH_DATABASE_URL", sqlite_url)
    try:
        app = asgi.app_factory()
        assert gc.get_threshold() == (asgi.GC_THRESHOLD, before[1], before[2])
        assert asgi.GC_THRESHOLD > 700  # CPython's default, which cost ingest ~8 %
        assert app.router.routes  # the app, built from the environment's settings
    finally:
        gc.set_threshold(*before)
