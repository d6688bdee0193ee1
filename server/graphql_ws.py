"""GraphQL over WebSocket at /graphql: `graphql-transport-ws` only (Strawberry's handler),
made total and bounded for a public socket.

- The legacy `graphql-ws` subprotocol (subscriptions-transport-ws) is refused: close 4406.
- `connection_init` must carry `{"authorization": "Bearer <token>"}`, checked as HTTP
  tokens are; anything else closes 4403 (the protocol's Forbidden). No `connection_init`
  within `subscription_init_timeout_seconds`: 4408. The token is looked up again before
  each event is sent; once it is revoked the connection closes 4403 instead.
- Only subscriptions run over the socket. Queries and mutations are refused with an
  `error` message (code `OPERATION_NOT_SUPPORTED`): over HTTP they have the timeout, the
  status codes and the caching a socket cannot give, and one path for them keeps one set
  of rules. Each subscription is validated, cost-checked and charged once, like an HTTP
  operation (the same schema extensions), and allowlist mode applies to it.
- Frames that are not JSON objects of the protocol, or larger than
  `subscription_max_message_bytes`, close the connection (4400, 1009): never a crash.
- At most `subscription_max_per_connection` operations per connection,
  `subscription_max_per_token` subscriptions per token (`TOO_MANY_SUBSCRIPTIONS`) and
  `subscription_max_connections_per_token` connections per token, idle ones included
  (close 1013; `server/socket_slots.py`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from graphql import GraphQLError, get_operation_ast, parse
from graphql.language import OperationType as AstOperationType
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from gql.core.context import Context
from gql.persisted import PersistedQueryError
from server.graphql_protocol import encode_json
from server.socket_slots import SocketSlots
from storage.accounts import TokenInfo, hash_token

if TYPE_CHECKING:
    from server.graphql_endpoint import RelhealthGraphQL

OPERATION_NOT_SUPPORTED = "OPERATION_NOT_SUPPORTED"
TOO_MANY_OPERATIONS = "TOO_MANY_OPERATIONS"
#: RFC 6455: the message is too big to process.
MESSAGE_TOO_BIG = 1009
#: graphql-transport-ws: Forbidden (the close code of a refused `connection_init` too).
FORBIDDEN = 4403
#: RFC 6455: try again later (a capacity limit, not the client's fault).
TRY_AGAIN_LATER = 1013


@dataclass
class SocketState:
    """The connection's context until `connection_init` (Strawberry sets
    `connection_params`); each operation then gets a `Context` of its own."""

    connection_params: Any = None
    token: TokenInfo | None = None
    token_key: str = ""
    #: `storage.accounts.hash_token` of the token: how its revocation is checked.
    token_hash: str = ""
    #: The `server.socket_slots` key this connection holds a slot of ("" for none).
    slot: str = ""
    extensions: dict[str, Any] = field(default_factory=dict)


def _token_key(value: str) -> str:
    """As HTTP keys budgets: a hash of the token, so the secret itself is not kept."""
    return hashlib.sha256(value.strip().encode()).hexdigest()[:32]


def _bearer(params: object) -> str | None:
    """The token of `connection_init`'s `{"authorization": "Bearer <token>"}`, or None."""
    params = params if isinstance(params, dict) else {}
    header = params.get("authorization", params.get("Authorization"))
    if not isinstance(header, str) or len(header) > 4096:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def connect(view: RelhealthGraphQL, state: SocketState) -> None:
    """Authenticate `connection_init`; ConnectionRejectionError closes 4403."""
    value = _bearer(state.connection_params)
    if value is None:
        raise ConnectionRejectionError
    token = await view.services.accounts.token(value)
    if token is None or not token.can_read():
        raise ConnectionRejectionError
    state.token = token
    state.token_key = _token_key(value)
    state.token_hash = hash_token(value)


def operation_context(view: RelhealthGraphQL, state: SocketState) -> Context:
    services = view.services
    assert state.token is not None  # operations run only after connection_ack
    return Context(
        store=services.store,
        accounts=services.accounts,
        options=view.options,
        token=state.token,
        now=services.clock.now(),
        budget_key=state.token_key,
        max_cost=view.limits.cost.max_cost,
        webhook_allow_private=services.settings.webhook_allow_private,
        subscriptions=services.subscriptions,
        clock=services.clock.now,
    )


def _subscribe_problem(message: dict[str, Any]) -> str | None:
    """What is malformed in a `subscribe` message, or None."""
    if not isinstance(message.get("id"), str) or not 0 < len(message["id"]) <= 128:
        return "`subscribe` needs an `id`: a string of 1 to 128 characters"
    payload = message.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "`subscribe` needs a `payload` object with a `query` string"
    if not isinstance(payload.get("variables") or {}, dict):
        return "`variables` must be an object"
    if not isinstance(payload.get("operationName") or "", str):
        return "`operationName` must be a string"
    if not isinstance(payload.get("extensions") or {}, dict):
        return "`extensions` must be an object"
    return None


def _is_subscription(query: str | None, operation_name: str | None, max_tokens: int) -> bool:
    """Whether the operation to run is a subscription; True when that cannot be told
    (a syntax error, an unknown operation name): execution reports those itself."""
    try:
        document = parse(query or "", max_tokens=max_tokens, no_location=True)
    except GraphQLError:
        return True
    operation = get_operation_ast(document, operation_name)
    return operation is None or operation.operation is AstOperationType.SUBSCRIPTION


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    @property
    def slots(self) -> SocketSlots:
        """The process's connections per token (`Services.socket_slots`)."""
        return self.view.services.socket_slots  # type: ignore[attr-defined,no-any-return]

    async def handle_connection_init(self, message: Any) -> None:
        """Strawberry's, after taking a slot of the presented token: over
        `subscription_max_connections_per_token` the connection closes 1013 (try again
        later) before the token is even looked up."""
        state: SocketState = self.context
        value = None if self.connection_init_received else _bearer(message.get("payload"))
        if value is not None and not state.slot:
            slots = self.slots
            key = _token_key(value)
            if not slots.take(key):
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                reason = (
                    f"This token has {slots.per_token} connections open (the most allowed); close one first"
                )
                await self.websocket.close(TRY_AGAIN_LATER, reason)
                return
            state.slot = key
        await super().handle_connection_init(message)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            state: SocketState = self.context
            if state.slot:
                self.slots.give(state.slot)
                state.slot = ""

    async def handle_message(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.handle_invalid_message("Messages are JSON objects with a string `type`")
            return
        if message["type"] == "subscribe":
            problem = _subscribe_problem(message)
            if problem is not None:
                await self.handle_invalid_message(problem)
                return
        elif message["type"] == "complete" and not isinstance(message.get("id"), str):
            await self.handle_invalid_message("`complete` needs the `id` of an operation")
            return
        await super().handle_message(message)  # type: ignore[arg-type]

    async def handle_subscribe(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        acknowledged = self.connection_acknowledged and message["id"] not in self.operations
        if acknowledged and limit is not None and len(self.operations) >= limit:
            error = GraphQLError(
                f"This connection has {limit} operations running (the most allowed); complete one first.",
                extensions={"code": TOO_MANY_OPERATIONS},
            )
            await self.send_message({"id": message["id"], "type": "error", "payload": [error.formatted]})
            return
        state: SocketState = self.context
        state.extensions[message["id"]] = message["payload"].get("extensions")
        await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        """Strawberry's, with a context of the operation's own, the persisted-query rules
        of HTTP, and subscriptions only."""
        view: RelhealthGraphQL = self.view  # type: ignore[assignment]
        state: SocketState = self.context
        extensions = state.extensions.pop(operation.id, None)
        try:
            assert state.token is not None
            data = GraphQLRequestData(
                query=operation.query,
                variables=operation.variables,
                operation_name=operation.operation_name,
                extensions=extensions,
                protocol="http",
            )
            try:
                data, _ = await view.persisted.resolve(data, state.token)
            except PersistedQueryError as exc:
                error = GraphQLError(exc.message, extensions={"code": exc.code})
                await operation.send_initial_errors([error])
                return
            if not _is_subscription(data.query, data.operation_name, view.limits.max_tokens):
                error = GraphQLError(
                    "Only subscriptions run over WebSocket; send queries and mutations with POST /graphql.",
                    extensions={"code": OPERATION_NOT_SUPPORTED},
                )
                await operation.send_initial_errors([error])
                return
            result_source = await self.schema.stream(
                data.query,
                variable_values=data.variables,
                context_value=operation_context(view, state),
                root_value=self.root_value,
                operation_name=data.operation_name,
                allowed_operation_types=(OperationType.SUBSCRIPTION,),
            )
            async with aclosing(result_source):
                await self._send_result_stream(
                    operation,
                    _while_token_lives(view, state, result_source),  # type: ignore[arg-type]
                )
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except _TokenRevoked:
            # The connection was authenticated by that token: all of it ends, not only this
            # operation, and nothing more is sent.
            await self.websocket.close(FORBIDDEN, "Forbidden: the token was revoked")
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise


class _TokenRevoked(Exception):
    """The connection's token no longer exists."""


async def _while_token_lives(
    view: RelhealthGraphQL, state: SocketState, source: AsyncGenerator[Any, None]
) -> AsyncGenerator[Any, None]:
    """`source`'s results while the connection's token lives: it is looked up (through the
    accounts cache) before each result is sent, so a revoked token receives nothing more,
    from the next event on in this process and within the cache's lifetime in others."""
    accounts = view.services.accounts
    async for result in source:
        if await accounts.token_by_hash(state.token_hash) is None:
            raise _TokenRevoked
        yield result


class CappedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, with a size cap and every undecodable frame a protocol error,
    and every message a text frame."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        # The view encodes with orjson, to bytes, which Strawberry would send as a binary
        # frame; graphql-transport-ws messages are text frames (the graphql-ws client
        # drops binary ones).
        try:
            await self.ws.send_text(encode_json(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        ws: WebSocket = self.ws
        limit = self.view.settings.subscription_max_message_bytes  # type: ignore[attr-defined]
        while ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await ws.receive_text()
            except WebSocketDisconnect:
                return
            except KeyError:  # a binary frame
                raise NonTextMessageReceived from None
            if len(text) > limit or len(text.encode()) > limit:
                await ws.close(MESSAGE_TOO_BIG, f"Messages are at most {limit} bytes")
                return
            try:
                message = self.view.decode_json(text)
            except (json.JSONDecodeError, ValueError, HTTPException):
                raise NonJsonMessageReceived from None
            yield message


async def refuse_legacy(scope: Any, receive: Any, send: Any) -> bool:
    """Close a handshake that does not offer `graphql-transport-ws` (4406), saying why."""
    if GRAPHQL_TRANSPORT_WS_PROTOCOL in scope.get("subprotocols", []):
        return False
    ws = WebSocket(scope, receive, send)
    await ws.accept()
    await ws.close(
        4406,
        "Subprotocol not acceptable: only graphql-transport-ws is served (not the legacy graphql-ws)",
    )
    return True


__all__ = ["CappedWebSocketAdapter", "SocketState", "TransportWSHandler", "refuse_legacy"]
