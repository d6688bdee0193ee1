"""Webhooks (issue 10 section 4): signatures, the backoff schedule, the outbox's
exactly-once enqueue and exclusive claims on both backends, and deliveries end to end
through a live server to a receiver on 127.0.0.1 that fails its first two deliveries,
with the server clock pinned and moved through the retries until an event is dead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jobs.webhook_signature import sign, verify_signature
from jobs.webhook_urls import check_url
from jobs.webhooks import BACKOFF, GIVE_UP_AFTER, MAX_ATTEMPTS, next_attempt
from server.clock import FixedClock
from server.settings import Settings
from storage import webhooks
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from tests.webhook_receiver import Receiver

CLOCK = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()

ENDPOINT_FIELDS = "id url eventTypes enabled createdAt"
CREATE = (
    "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {"
    " webhookEndpoint { %s } secret userErrors { field message code } } }" % ENDPOINT_FIELDS
)
UPDATE = (
    "mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) {"
    " webhookEndpoint { %s } userErrors { field message code } } }" % ENDPOINT_FIELDS
)
DELETE = (
    "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedWebhookEndpointId userErrors { code } } }"
)
PING = (
    "mutation($id: ID!) { pingWebhookEndpoint(id: $id) {"
    " delivery { deliveryId eventType status attempts } userErrors { field message code } } }"
)
DELIVERIES = """query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { deliveries(first: 10) {
  totalCount nodes { deliveryId eventType eventKey payload status attempts lastStatusCode lastError
  nextAttemptAt createdAt deliveredAt attemptLog { attempt at statusCode error responseBody durationMs } } } } } }"""


# -- signatures, URLs and the schedule ------------------------------------------------------


def test_verify_signature_accepts_only_a_fresh_untampered_body() -> None:
    body = b'{"type":"ping"}'
    header = sign("whsec_x", 1_700_000_000, body)
    assert header.startswith("v1=") and len(header) == 3 + 64
    assert verify_signature("whsec_x", "1700000000", body, header, now=1_700_000_100)
    # Several signatures (a rotated secret): any one that matches will do.
    assert verify_signature("whsec_x", 1_700_000_000, body, f"v1=00, {header}", now=1_700_000_000)
    assert not verify_signature("whsec_y", "1700000000", body, header, now=1_700_000_000)  # wrong secret
    assert not verify_signature("whsec_x", "1700000000", body + b" ", header, now=1_700_000_000)  # body
    assert not verify_signature("whsec_x", "1700000001", body, header, now=1_700_000_000)  # timestamp
    # A replay: the right signature, 301 s later.
    assert not verify_signature("whsec_x", "1700000000", body, header, now=1_700_000_301)
    assert verify_signature("whsec_x", "1700000000", body, header, tolerance=600, now=1_700_000_301)
    assert not verify_signature("whsec_x", "soon", body, header)


def test_the_backoff_schedule_by_hand() -> None:
    # Attempt n fails at t: the next one is t + 10 s, 30 s, 2 min, 10 min, 1 h, then 6 h.
    assert [next_attempt(0, 100, n, 0) for n in range(1, 8)] == [110, 130, 220, 700, 3700, 21700, 21700]
    assert next_attempt(0, 100, 1, 0.1) == pytest.approx(111)  # 10 % jitter at most
    # The last retry is at the 24-hour mark exactly; failing there is dead.
    assert next_attempt(0, 80_000, 9, 0) == GIVE_UP_AFTER
    assert next_attempt(0, GIVE_UP_AFTER, 10, 0) is None
    # 0, 10, 40, 160, 760, 4360, 25960, 47560, 69160 and 86400 s: ten attempts.
    assert BACKOFF[:5] == (10, 30, 120, 600, 3600) and MAX_ATTEMPTS == 10


async def test_urls_are_http_and_public_unless_allowed() -> None:
    assert await check_url("ftp://example.com/x", True) == "Only http and https URLs are allowed."
    assert await check_url("https://u:p@example.com/", True) is not None
    assert await check_url("http:///nohost", True) == "The URL has no host."
    for internal in (
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://[::ffff:192.168.0.1]/",
    ):
        assert "refused" in (await check_url(internal, False) or ""), internal
        assert await check_url(internal, True) is None
    assert await check_url("https://93.184.215.14/hook", False) is None
    assert await check_url("http://localhost:8080/", False) is not None


# -- the outbox on both backends -----------------------------------------------------------


def _storage(database_url: str, body: Callable[..., Any]) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await ensure_schema(engine)
            accounts = AccountStore(engine)
            await accounts.create_project("acme", "web", 1)
            await accounts.create_project("other", "web", 2)
            await body(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_enqueue_is_once_per_key_and_subscribed_endpoint(database_url: str) -> None:
    async def body(engine: Any) -> None:
        acme, other = 1, 2
        alerts = await webhooks.create_endpoint(
            engine, acme, "http://a/", ["alert.transition"], True, now=CLOCK
        )
        both = await webhooks.create_endpoint(
            engine, acme, "http://b/", ["alert.transition", "gate.verdict_changed"], True, now=CLOCK
        )
        await webhooks.create_endpoint(engine, acme, "http://off/", ["alert.transition"], False, now=CLOCK)
        await webhooks.create_endpoint(engine, other, "http://o/", ["alert.transition"], True, now=CLOCK)
        async with engine.begin() as conn:
            first = await webhooks.enqueue(
                conn, acme, "alert.transition", "rule1:r@1:t:critical", {"v": 1}, at=CLOCK
            )
        assert len(first) == 2  # the two enabled, subscribed endpoints of acme; not `off`, not `other`
        async with engine.begin() as conn:
            # The same transition re-evaluated: nothing new, and no error in the transaction.
            assert (
                await webhooks.enqueue(
                    conn, acme, "alert.transition", "rule1:r@1:t:critical", {"v": 1}, at=CLOCK
                )
                == []
            )
            gate = await webhooks.enqueue(
                conn, acme, "gate.verdict_changed", "gate1:r@1:fail", {"v": 2}, at=CLOCK
            )
        assert len(gate) == 1
        # A transaction rolled back leaves no event.
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await webhooks.enqueue(conn, acme, "alert.transition", "rolled-back", {}, at=CLOCK)
                raise RuntimeError
        a, _ = await webhooks.events_page(engine, alerts.id, 0, 10)
        b, total = await webhooks.events_page(engine, both.id, 0, 10)
        assert [e.event_key for e in a] == ["rule1:r@1:t:critical"]
        assert total == 2 and [e.event_type for e in b] == ["gate.verdict_changed", "alert.transition"]

    _storage(database_url, body)


def test_a_due_event_is_claimed_by_one_sender_until_its_lease_ends(database_url: str) -> None:
    async def body(engine: Any) -> None:
        await webhooks.create_endpoint(engine, 1, "http://a/", ["alert.transition"], True, now=CLOCK)
        async with engine.begin() as conn:
            await webhooks.enqueue(conn, 1, "alert.transition", "k", {}, at=CLOCK)
        assert await webhooks.claim(engine, now=CLOCK - 1, lease=30, limit=10) == []  # not due yet
        claims = await asyncio.gather(
            *(webhooks.claim(engine, now=CLOCK, lease=30, limit=10) for _ in range(4))
        )
        assert sorted(len(c) for c in claims) == [0, 0, 0, 1]
        assert await webhooks.claim(engine, now=CLOCK + 29, lease=30, limit=10) == []  # leased
        # The sender died: after its lease, another one takes the event.
        again = await webhooks.claim(engine, now=CLOCK + 31, lease=30, limit=10)
        (won,) = [c for c in claims if c]
        assert [c.id for c in again] == [won[0].id]

    _storage(database_url, body)


# -- end to end through a live server ------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        r = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
            trust_env=False,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    def deliveries(self, endpoint: str) -> list[dict[str, Any]]:
        return self.data(DELIVERIES, id=endpoint)["node"]["deliveries"]["nodes"]  # type: ignore[no-any-return]

    def wait(
        self, endpoint: str, done: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.deliveries(endpoint)
            if found and done(found[0]):
                return found[0]
            assert time.monotonic() < deadline, found
            time.sleep(0.1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def live(live_server: Any, database_url: str) -> tuple[Any, Api, Api]:
    clock = FixedClock(CLOCK)
    server = live_server(Settings(database_url=database_url, webhook_allow_private=True), clock)
    accounts = server.services.accounts
    server.run(lambda: accounts.create_project("acme", "mobile", 1))
    write = server.run(lambda: accounts.create_token("acme", ["org:write"]))
    read = server.run(lambda: accounts.create_token("acme", ["org:read"]))
    server.clock = clock
    return server, Api(server.url, write), Api(server.url, read)


def _endpoint(api: Api, receiver: Receiver, url: str) -> str:
    created = api.data(CREATE, input={"url": url, "eventTypes": ["ALERT_TRANSITION"]})[
        "createWebhookEndpoint"
    ]
    assert created["userErrors"] == [] and created["secret"].startswith("whsec_")
    receiver.secret = created["secret"]
    return created["webhookEndpoint"]["id"]  # type: ignore[no-any-return]


def test_two_failures_then_exactly_one_accepted_delivery(
    live: tuple[Any, Api, Api], receiver: Receiver
) -> None:
    server, api, _ = live
    clock = server.clock
    receiver.failures, receiver.now = 2, clock.now
    endpoint = _endpoint(api, receiver, receiver.start())
    pinged = api.data(PING, id=endpoint)["pingWebhookEndpoint"]
    assert pinged["userErrors"] == [] and pinged["delivery"]["status"] == "PENDING"
    delivery = pinged["delivery"]["deliveryId"]

    first = api.wait(endpoint, lambda d: d["attempts"] == 1)
    assert (first["status"], first["lastStatusCode"]) == ("PENDING", 500)
    due = datetime.fromisoformat(first["nextAttemptAt"]).timestamp()
    assert CLOCK + 10 <= due <= CLOCK + 11  # 10 s and up to 10 % jitter
    time.sleep(1.5)
    assert len(receiver.requests) == 1  # nothing before it is due
    clock.at = due
    second = api.wait(endpoint, lambda d: d["attempts"] == 2)
    due = datetime.fromisoformat(second["nextAttemptAt"]).timestamp()
    assert clock.at + 30 <= due <= clock.at + 33
    clock.at = due
    done = api.wait(endpoint, lambda d: d["status"] == "DELIVERED")
    time.sleep(1.5)  # a delivered event is never sent again

    assert receiver.accepted == [delivery]
    assert [r.delivery for r in receiver.requests] == [delivery] * 3  # stable across retries
    assert all(r.signature_ok and r.event == "ping" for r in receiver.requests)
    assert receiver.requests[0].body["type"] == "ping" and receiver.requests[0].body["endpoint"] == endpoint
    assert (done["attempts"], done["lastStatusCode"], done["nextAttemptAt"]) == (3, 200, None)
    log = done["attemptLog"]
    assert [(a["attempt"], a["statusCode"], a["responseBody"]) for a in log] == [
        (1, 500, "no"),
        (2, 500, "no"),
        (3, 200, "ok"),
    ]
    assert done["deliveredAt"] == log[2]["at"]
    # The receiver checks timestamps against the server clock: a replay 301 s later fails.
    last = receiver.requests[-1]
    body = done["payload"].encode()
    assert verify_signature(
        receiver.secret, last.timestamp, body, sign(receiver.secret, int(last.timestamp), body), now=clock.at
    )
    assert not verify_signature(
        receiver.secret,
        last.timestamp,
        body,
        sign(receiver.secret, int(last.timestamp), body),
        now=clock.at + 301,
    )


def test_dead_after_the_last_retry(live: tuple[Any, Api, Api], receiver: Receiver) -> None:
    server, api, read = live
    clock = server.clock
    receiver.failures, receiver.now = 1000, clock.now
    endpoint = _endpoint(api, receiver, receiver.start())
    api.data(PING, id=endpoint)
    for attempts in range(1, MAX_ATTEMPTS + 1):
        found = api.wait(endpoint, lambda d, n=attempts: d["attempts"] == n)  # type: ignore[misc]
        if found["status"] == "DEAD":
            break
        clock.at = datetime.fromisoformat(found["nextAttemptAt"]).timestamp()
    assert (found["status"], found["attempts"], found["nextAttemptAt"]) == ("DEAD", MAX_ATTEMPTS, None)
    log = found["attemptLog"]
    assert datetime.fromisoformat(log[-1]["at"]).timestamp() == CLOCK + GIVE_UP_AFTER
    assert len(receiver.requests) == MAX_ATTEMPTS and receiver.accepted == []
    # Readable with org:read; only org:write changes endpoints.
    assert read.deliveries(endpoint)[0]["status"] == "DEAD"


def test_endpoint_management(live: tuple[Any, Api, Api]) -> None:
    _, api, read = live
    refused = api.data(CREATE, input={"url": "ftp://x/", "eventTypes": ["PING"]})["createWebhookEndpoint"]
    assert refused["webhookEndpoint"] is None and refused["secret"] is None
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "url"], "INVALID"),
        (["input", "eventTypes"], "INVALID"),
    ]
    created = api.data(CREATE, input={"url": "http://127.0.0.1:9/h", "eventTypes": ["ALERT_TRANSITION"]})
    endpoint = created["createWebhookEndpoint"]["webhookEndpoint"]
    changed = api.data(
        UPDATE,
        id=endpoint["id"],
        input={"enabled": False, "eventTypes": ["GATE_VERDICT_CHANGED", "ALERT_TRANSITION"]},
    )
    assert changed["updateWebhookEndpoint"]["webhookEndpoint"] == {
        **endpoint,
        "enabled": False,
        "eventTypes": ["ALERT_TRANSITION", "GATE_VERDICT_CHANGED"],
    }
    ping = api.data(PING, id=endpoint["id"])["pingWebhookEndpoint"]
    assert ping["delivery"] is None and ping["userErrors"][0]["message"] == "The endpoint is disabled."
    listed = read.data("{ viewer { organization { webhookEndpoints { totalCount nodes { id url } } } } }")
    assert listed["viewer"]["organization"]["webhookEndpoints"] == {
        "totalCount": 1,
        "nodes": [{"id": endpoint["id"], "url": "http://127.0.0.1:9/h"}],
    }
    r = httpx.post(
        f"{api.url}/graphql",
        json={"query": DELETE, "variables": {"id": endpoint["id"]}},
        headers={"Authorization": f"Bearer {read.token}"},
        trust_env=False,
    )
    assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (
        api.data(DELETE, id=endpoint["id"])["deleteWebhookEndpoint"]["deletedWebhookEndpointId"]
        == endpoint["id"]
    )
    assert api.data(DELETE, id=endpoint["id"])["deleteWebhookEndpoint"]["userErrors"] == [
        {"code": "NOT_FOUND"}
    ]
    assert read.data(DELIVERIES, id=endpoint["id"])["node"] is None


def test_webhook_event_types_are_the_event_logs() -> None:
    from storage import events

    assert webhooks.EVENT_TYPES == events.EVENT_TYPES
