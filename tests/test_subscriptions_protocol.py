"""graphql-transport-ws at /graphql, frame by frame (the `websockets` client against a live
server on a SQLite file): what a hostile or broken client gets. Every refusal is a close
code of the protocol or an `error` message with `extensions.code`; the server keeps
answering afterwards, and no refused subscription keeps a slot."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from gql.core.ids import global_id
from server.settings import Settings
from storage import events
from tests.test_subscriptions_client import _key, gate_payload, wait_open

pytestmark = pytest.mark.slow

PROTOCOL = "graphql-transport-ws"
GATES = "subscription { gateVerdictChanges { id release { version } to } }"


class Server:
    def __init__(self, live_server: Any, sqlite_url: str, **settings: Any) -> None:
        self.live = live_server(Settings(database_url=sqlite_url, subscription_poll_seconds=0.1, **settings))
        accounts = self.live.services.accounts
        self.live.run(lambda: accounts.create_project("acme", "web", 1))
        self.live.run(lambda: accounts.create_project("other", "site", 2))
        self.token = self.live.run(lambda: accounts.create_token("acme", ["org:read"]))
        self.url = self.live.url.replace("http://", "ws://") + "/graphql"

    async def connect(self, init: bool = True, protocol: str = PROTOCOL) -> ClientConnection:
        ws = await websockets.connect(self.url, subprotocols=[protocol])  # type: ignore[list-item]
        if init:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}})
            )
            assert (await message(ws))["type"] == "connection_ack"
        return ws

    def healthy(self) -> bool:
        return httpx.get(f"{self.live.url}/healthz", timeout=10).status_code == 200


async def closed(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason, once the server closed (messages before are skipped)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    except websockets.ConnectionClosed as exc:
        assert exc.rcvd is not None
        return exc.rcvd.code, exc.rcvd.reason


async def subscribe(ws: ClientConnection, op_id: str, query: str, variables: Any = None) -> None:
    await ws.send(
        json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})
    )


async def message(ws: ClientConnection) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), 30)
    # graphql-transport-ws messages are text frames: the graphql-ws client drops binary ones.
    assert isinstance(raw, str), f"a binary frame: {raw!r}"
    return json.loads(raw)  # type: ignore[no-any-return]


@pytest.fixture
def server(live_server: Any, sqlite_url: str) -> Server:
    return Server(live_server, sqlite_url)


async def test_the_legacy_protocol_is_refused_4406(server: Server) -> None:
    ws = await server.connect(init=False, protocol="graphql-ws")
    code, reason = await closed(ws)
    assert code == 4406 and "only graphql-transport-ws" in reason


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        (["not json"], 4400),
        (["42"], 4400),
        (["[]"], 4400),
        (['{"type": 5}'], 4400),
        (['{"type": "nonsense"}'], 4400),
        (["[" * 30_000 + "]" * 30_000], 4400),  # nested past the JSON decoder's recursion
        (['{"type": "connection_init", "payload": "x"}'], 4400),
        (['{"type": "connection_init", "payload": {"authorization": 7}}'], 4403),
        (['{"type": "connection_init", "payload": {"authorization": "Basic abc"}}'], 4403),
        (['{"id": "1", "type": "subscribe", "payload": {"query": "subscription { x }"}}'], 4401),
    ],
)
async def test_garbage_before_init_closes_the_connection_cleanly(
    server: Server, frames: list[str], code: int
) -> None:
    ws = await server.connect(init=False)
    for frame in frames:
        await ws.send(frame)
    assert (await closed(ws))[0] == code
    assert server.healthy()


@pytest.mark.parametrize(
    "frame",
    [
        {"id": "1", "type": "subscribe", "payload": "x"},
        {"id": 1, "type": "subscribe", "payload": {"query": GATES}},
        {"id": "1", "type": "subscribe", "payload": {"query": GATES, "variables": [1]}},
        {"id": "1", "type": "subscribe", "payload": {"query": GATES, "extensions": "x"}},
        {"id": "1", "type": "subscribe"},
        {"type": "complete"},
    ],
)
async def test_malformed_messages_after_init_close_4400(server: Server, frame: dict[str, Any]) -> None:
    ws = await server.connect()
    await ws.send(json.dumps(frame))
    assert (await closed(ws))[0] == 4400
    assert server.healthy()
    assert server.live.services.subscriptions.open == {}


async def test_a_binary_frame_and_an_oversized_message_close_the_connection(server: Server) -> None:
    ws = await server.connect()
    await ws.send(b"\x00\x01")
    assert (await closed(ws))[0] == 4400
    ws = await server.connect()
    await ws.send(json.dumps({"type": "ping", "payload": {"x": "y" * 70_000}}))  # over 64 KiB
    assert await closed(ws) == (1009, "Messages are at most 65536 bytes")
    assert server.healthy()


async def test_no_connection_init_in_time_closes_4408(live_server: Any, sqlite_url: str) -> None:
    server = Server(live_server, sqlite_url, subscription_init_timeout_seconds=0.3)
    ws = await server.connect(init=False)
    assert await closed(ws) == (4408, "Connection initialisation timeout")


async def test_queries_and_mutations_are_refused_over_the_socket(server: Server) -> None:
    ws = await server.connect()
    await subscribe(ws, "q", "{ viewer { organization { slug } } }")
    await subscribe(ws, "m", 'mutation { deleteAlertRule(id: "x") { deletedAlertRuleId } }')
    answers = {m["id"]: m for m in [await message(ws), await message(ws)]}
    for op in ("q", "m"):
        assert answers[op]["type"] == "error"
        assert answers[op]["payload"][0]["extensions"]["code"] == "OPERATION_NOT_SUPPORTED"
    # The connection stays usable.
    await subscribe(ws, "s", GATES)
    wait_open(server.live, server.token, 1)
    await ws.close()


def test_subscribing_over_http_is_refused(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    post = httpx.post(f"{server.live.url}/graphql", json={"query": GATES}, headers=headers, timeout=10)
    get = httpx.get(f"{server.live.url}/graphql", params={"query": GATES}, headers=headers, timeout=10)
    for answer in (post, get):
        assert answer.status_code == 400
        assert "over WebSocket at /graphql" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"projects": ["2"]}, "NOT_FOUND"),  # another organization's
        ({"projects": ["999"]}, "NOT_FOUND"),
        ({"projects": ["abc"]}, "BAD_USER_INPUT"),
        ({"projects": [str(i) for i in range(101)]}, "BAD_USER_INPUT"),
        ({"after": "nope"}, "BAD_USER_INPUT"),
        ({"after": str(global_id("Release", 1, "web@1"))}, "BAD_USER_INPUT"),
    ],
)
async def test_bad_arguments_are_an_error_message(
    server: Server, variables: dict[str, Any], code: str
) -> None:
    ws = await server.connect()
    query = "subscription($projects: [ID!], $after: ID) { alertTransitions(projects: $projects, after: $after) { id } }"
    await subscribe(ws, "1", query, variables)
    answer = await message(ws)
    assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == code, answer
    assert server.live.services.subscriptions.open == {}
    await ws.close()


async def test_a_subscription_over_the_cost_maximum_is_refused(live_server: Any, sqlite_url: str) -> None:
    server = Server(live_server, sqlite_url, graphql_max_cost=3)
    ws = await server.connect()
    await subscribe(
        ws, "1", "subscription { gateVerdictChanges { id release { version project { slug } } } }"
    )
    answer = await message(ws)
    assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED", (
        answer
    )
    assert server.live.services.subscriptions.open == {}
    await ws.close()


async def test_limits_per_connection_and_per_token(live_server: Any, sqlite_url: str) -> None:
    server = Server(live_server, sqlite_url, subscription_max_per_connection=2, subscription_max_per_token=3)
    first = await server.connect()
    await subscribe(first, "1", GATES)
    await subscribe(first, "2", GATES)
    await subscribe(first, "3", GATES)
    answer = await message(first)
    assert (answer["id"], answer["type"]) == ("3", "error")
    assert answer["payload"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
    wait_open(server.live, server.token, 2)

    second = await server.connect()
    await subscribe(second, "a", GATES)
    wait_open(server.live, server.token, 3)
    await subscribe(second, "b", GATES)
    answer = await message(second)
    assert (answer["id"], answer["type"]) == ("b", "error")
    assert answer["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"

    # Completing one frees its slot; closing a connection frees all of its own.
    await first.send(json.dumps({"id": "1", "type": "complete"}))
    wait_open(server.live, server.token, 2)
    await subscribe(second, "c", GATES)
    wait_open(server.live, server.token, 3)
    await first.close()
    wait_open(server.live, server.token, 2)
    await second.close()
    wait_open(server.live, server.token, 0)


async def test_connections_per_token_idle_ones_included(live_server: Any, sqlite_url: str) -> None:
    server = Server(live_server, sqlite_url, subscription_max_connections_per_token=2)
    slots = server.live.services.socket_slots
    first = await server.connect()
    second = await server.connect()  # idle: no subscription
    third = await server.connect(init=False)
    await third.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {server.token}"}})
    )
    code, reason = await closed(third)
    assert code == 1013 and "2 connections" in reason

    # Another token, and a wrong one, are not held back by this token's slots.
    accounts = server.live.services.accounts
    other = server.live.run(lambda: accounts.create_token("acme", ["org:read"]))
    theirs = await websockets.connect(server.url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await theirs.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {other}"}})
    )
    assert (await message(theirs))["type"] == "connection_ack"
    wrong = await websockets.connect(server.url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await wrong.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
    assert (await closed(wrong))[0] == 4403

    # Closing a connection gives its slot back.
    await second.close()
    deadline = asyncio.get_running_loop().time() + 30
    while sum(slots.open.values()) != 2:  # first and theirs
        assert asyncio.get_running_loop().time() < deadline, dict(slots.open)
        await asyncio.sleep(0.05)
    again = await server.connect()
    await subscribe(again, "1", GATES)
    wait_open(server.live, server.token, 1)
    for ws in (first, again, theirs):
        await ws.close()
    while slots.open:
        assert asyncio.get_running_loop().time() < deadline, dict(slots.open)
        await asyncio.sleep(0.05)
    assert server.healthy()


async def test_a_subscriber_that_falls_behind_is_closed_with_an_error(
    live_server: Any, sqlite_url: str
) -> None:
    """Queue of 1: three events committed at once reach the broadcaster in one read, so
    the second overflows the queue before the subscription can send the first."""
    server = Server(live_server, sqlite_url, subscription_queue_size=1)
    ws = await server.connect()
    await subscribe(ws, "1", GATES)
    wait_open(server.live, server.token, 1)
    engine = server.live.services.engine

    async def three() -> None:
        async with engine.begin() as conn:
            for n in range(3):
                await events.publish(
                    conn,
                    org_id=1,
                    project_id=1,
                    event_type=events.GATE_VERDICT_CHANGED,
                    event_key=f"g{n}",
                    payload=gate_payload(f"web@{n}", None, "PASS", n),
                    at=0.0,
                )

    server.live.run(three)
    answer = await message(ws)
    assert (
        answer["type"] == "next"
        and answer["payload"]["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_OVERFLOW"
    )
    assert answer["payload"]["data"] is None
    assert (await message(ws))["type"] == "complete"
    wait_open(server.live, server.token, 0)
    assert _key(server.token) not in server.live.services.subscriptions.open
    await ws.close()


async def test_a_revoked_token_receives_nothing_more_and_its_connection_closes_4403(
    server: Server,
) -> None:
    accounts = server.live.services.accounts
    other = server.live.run(lambda: accounts.create_token("acme", ["org:read"]))
    ws = await server.connect()
    await subscribe(ws, "1", GATES)
    wait_open(server.live, server.token, 1)
    # A second connection, on a token that stays, hears the same event.
    kept = await websockets.connect(server.url, subprotocols=[PROTOCOL])  # type: ignore[list-item]
    await kept.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {other}"}}))
    assert json.loads(await kept.recv())["type"] == "connection_ack"
    await subscribe(kept, "1", GATES)
    wait_open(server.live, other, 1)

    assert server.live.run(lambda: accounts.revoke_token(server.token)) is True
    engine = server.live.services.engine

    async def publish() -> None:
        async with engine.begin() as conn:
            await events.publish(
                conn,
                org_id=1,
                project_id=1,
                event_type=events.GATE_VERDICT_CHANGED,
                event_key="after-revoke",
                payload=gate_payload("web@9", None, "FAIL", 0),
                at=0.0,
            )

    server.live.run(publish)
    answer = await message(kept)
    assert answer["type"] == "next" and answer["payload"]["data"]["gateVerdictChanges"]["to"] == "FAIL"
    try:  # nothing of the event reaches the revoked token's connection
        got = await asyncio.wait_for(ws.recv(), 30)
        raise AssertionError(f"the revoked token received {got!r}")
    except websockets.ConnectionClosed as exc:
        assert exc.rcvd is not None and exc.rcvd.code == 4403
        assert "revoked" in exc.rcvd.reason
    wait_open(server.live, server.token, 0)  # its subscription slot is free
    assert server.healthy()
    await kept.close()


async def test_the_server_stops_with_subscriptions_open(server: Server) -> None:
    ws = await server.connect()
    await subscribe(ws, "1", GATES)
    wait_open(server.live, server.token, 1)
    await asyncio.to_thread(server.live.stop)
    assert not server.live.thread.is_alive()
    code, _ = await closed(ws)
    assert code in (1001, 1012)  # going away / service restart


async def test_allowlist_mode_applies_to_subscriptions(live_server: Any, sqlite_url: str) -> None:
    server = Server(live_server, sqlite_url, graphql_allowlist=True)
    ws = await server.connect()
    await subscribe(ws, "1", GATES)
    answer = await message(ws)
    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
    assert server.live.services.subscriptions.open == {}
    await ws.close()
