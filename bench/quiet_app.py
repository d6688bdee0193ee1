"""An in-process relhealth app with no background pass (retention, alerts, webhook
delivery): the benchmark's phases that count statements or drive a pass themselves must
see only their own work."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette


def quiet_app(database_url: str, **settings: Any) -> Starlette:
    from server.app import create_app
    from server.settings import Settings

    return create_app(
        Settings(
            database_url=database_url,
            retention_interval_seconds=0,
            alert_interval_seconds=0,
            webhook_interval_seconds=0,
            **settings,
        )
    )
