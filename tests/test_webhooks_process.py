"""Webhooks across SIGKILL: real server processes on one SQLite file, a receiver on
127.0.0.1 that deduplicates on `Relhealth-Delivery` as the README says receivers should.

One event, three servers: the first enqueues it with its sender off and is killed before
any delivery; the second sends it, and is killed while the receiver (which has accepted
it) holds the request open, so the attempt is never recorded; the third, once the dead
sender's lease is over, sends it again with the same delivery id. The receiver accepts
it exactly once."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.test_process import relhealth, start_server
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow

CREATE = (
    "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {"
    " webhookEndpoint { id } secret userErrors { message } } }"
)
PING = (
    "mutation($id: ID!) { pingWebhookEndpoint(id: $id) { delivery { deliveryId } userErrors { message } } }"
)
DELIVERIES = """query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { deliveries {
  nodes { deliveryId status attempts attemptLog { attempt statusCode } } } } } }"""


def _graphql(port: int, token: str, query: str, **variables: Any) -> dict[str, Any]:
    r = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )
    body = r.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def _kill(proc: Any) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_an_event_survives_two_kills_and_is_accepted_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    assert (
        relhealth("projects", "create", "acme", "web", "--id", "1", "--database-url", sqlite_url).returncode
        == 0
    )
    token = relhealth(
        "tokens", "create", "acme", "--scope", "org:write", "--database-url", sqlite_url
    ).stdout.strip()
    assert re.fullmatch(r"rh_\S+", token)
    monkeypatch.setenv("RELHEALTH_WEBHOOK_ALLOW_PRIVATE", "true")
    # A 3 s timeout makes a claim's lease 11 s: the time a dead sender holds its event.
    monkeypatch.setenv("RELHEALTH_WEBHOOK_TIMEOUT_SECONDS", "3")
    receiver = Receiver(hold_first=True)
    url = receiver.start()
    try:
        # 1. Enqueued, then killed before any delivery (its sender is off).
        monkeypatch.setenv("RELHEALTH_WEBHOOK_INTERVAL_SECONDS", "0")
        port = free_port()
        proc = start_server(sqlite_url, port, log=tmp_path / "a.log")
        created = _graphql(port, token, CREATE, input={"url": url, "eventTypes": ["ALERT_TRANSITION"]})
        receiver.secret = created["createWebhookEndpoint"]["secret"]
        endpoint = created["createWebhookEndpoint"]["webhookEndpoint"]["id"]
        delivery = _graphql(port, token, PING, id=endpoint)["pingWebhookEndpoint"]["delivery"]["deliveryId"]
        _kill(proc)
        assert receiver.requests == []

        # 2. Sent, accepted by the receiver, killed before the sender records it.
        monkeypatch.setenv("RELHEALTH_WEBHOOK_INTERVAL_SECONDS", "1")
        port = free_port()
        proc = start_server(sqlite_url, port, log=tmp_path / "b.log")
        assert receiver.holding.wait(30)
        _kill(proc)
        receiver.release.set()
        assert receiver.accepted == [delivery]

        # 3. Restarted: the event is sent again after the lease, with the same id.
        port = free_port()
        proc = start_server(sqlite_url, port, log=tmp_path / "c.log")
        started = time.monotonic()
        try:
            while True:
                found = _graphql(port, token, DELIVERIES, id=endpoint)["node"]["deliveries"]["nodes"]
                if found[0]["status"] == "DELIVERED":
                    break
                assert time.monotonic() - started < 60, found
                time.sleep(0.2)
            time.sleep(2)  # and never again
        finally:
            _kill(proc)
    finally:
        receiver.stop()

    assert [r.delivery for r in receiver.requests] == [delivery, delivery]
    assert all(r.signature_ok for r in receiver.requests)
    assert receiver.accepted == [delivery]
    # The killed attempt left no trace: the log shows the one that was answered.
    assert found == [
        {
            "deliveryId": delivery,
            "status": "DELIVERED",
            "attempts": 1,
            "attemptLog": [{"attempt": 1, "statusCode": 200}],
        }
    ]
