"""`/metrics` never shows per-tenant data to an anonymous scraper: without
`RELHEALTH_METRICS_TOKEN` it is open with aggregate series only; with the token set it is
required, and shows the per-project series."""

from __future__ import annotations

import re

from server.settings import Settings
from storage.types import OutcomeIncrement, WriteBatch

RECEIVED = 1_760_000_000.0


async def _two_tenants(app) -> None:  # type: ignore[no-untyped-def]
    acc = app.services.accounts
    await acc.create_project("acme", "web", 41)
    await acc.create_project("globex", "shop", 42)
    await app.services.store.apply(
        [
            WriteBatch(
                outcomes=[
                    OutcomeIncrement(41, "session", "accepted", "", RECEIVED, 7),
                    OutcomeIncrement(42, "session", "accepted", "", RECEIVED, 5),
                    OutcomeIncrement(42, "session", "dropped", "too_old", RECEIVED, 2),
                ]
            )
        ]
    )


async def test_tenant_data_only_with_the_metrics_token(make_app, database_url):
    app = await make_app(Settings(database_url=database_url))
    await _two_tenants(app)
    await app.client.get("/healthz")
    r = await app.client.get("/metrics")
    assert r.status_code == 200
    body = r.text
    assert "project_id" not in body
    assert not re.search(r"\b4[12]\b", body.replace("0.", ""))  # neither project id anywhere
    assert "acme" not in body and "globex" not in body and "web" not in body and "shop" not in body
    # Aggregates over every project, and the process metrics, are still there.
    assert 'relhealth_ingest_items_accepted_total{item_type="session"} 12' in body
    assert 'relhealth_ingest_items_dropped_total{item_type="session",reason="too_old"} 2' in body
    assert 'relhealth_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert "relhealth_ingest_inbox_depth 0" in body

    # With the token configured it is required, and it shows the per-project series.
    app = await make_app(Settings(database_url=database_url, metrics_token="s3cret"))
    assert (await app.client.get("/metrics")).status_code == 401
    wrong = await app.client.get("/metrics", headers={"Authorization": "Bearer s3cre"})
    assert wrong.status_code == 401 and "project_id" not in wrong.text
    odd = await app.client.get("/metrics", headers={"Authorization": "Bearer s3crét".encode()})
    assert odd.status_code == 401
    r = await app.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200
    body = r.text
    assert 'relhealth_ingest_items_accepted_total{project_id="41",item_type="session"} 7' in body
    assert 'relhealth_ingest_items_accepted_total{project_id="42",item_type="session"} 5' in body
    assert (
        'relhealth_ingest_items_dropped_total{project_id="42",item_type="session",reason="too_old"} 2' in body
    )
