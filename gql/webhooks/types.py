# mypy: disable-error-code="untyped-decorator"
"""`WebhookEndpoint` (a `Node`), its deliveries (one per event, with every attempt) and
their enums (docs/alerts.md "Webhooks")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from gql.core.connection import DEFAULT_PAGE, Connection, page_window
from gql.core.context import ContextInfo
from gql.core.enums import _value
from gql.core.ids import global_id
from gql.node import Node
from storage import webhooks

_PAGE = Annotated[int, strawberry.argument(description="Page size, at most 100.")]
_AFTER = Annotated[str | None, strawberry.argument(description="The cursor to continue after.")]


@strawberry.enum(description="What happened, as the `Relhealth-Event` header names it.")
class WebhookEventType(Enum):
    ALERT_TRANSITION = _value("alert.transition", "An alert opened, escalated or resolved.")
    GATE_VERDICT_CHANGED = _value("gate.verdict_changed", "A health gate's verdict on a release changed.")
    ADOPTION_STAGE_CHANGED = _value("adoption.stage_changed", "A release's adoption stage changed.")
    PING = _value("ping", "A test event sent by `pingWebhookEndpoint` to one endpoint; not subscribed to.")


@strawberry.enum(description="Where an event is in its delivery to one endpoint.")
class WebhookDeliveryStatus(Enum):
    PENDING = _value("pending", "Not delivered yet; it is tried at `nextAttemptAt`.")
    DELIVERED = _value("delivered", "The endpoint answered 2xx.")
    DEAD = _value("dead", "Not delivered within 24 hours; no more attempts are made.")


@strawberry.type(description="One HTTP attempt to deliver an event.")
class WebhookAttempt:
    attempt: int = strawberry.field(description="1 for the first attempt, 2 for the first retry, ...")
    at: datetime = strawberry.field(description="When the request was sent.")
    status_code: int | None = strawberry.field(
        description="The endpoint's HTTP status; null when no answer came (timeout, connection error)."
    )
    error: str | None = strawberry.field(description="Why no answer came, or why the URL was refused.")
    response_body: str | None = strawberry.field(description="The first KiB of the endpoint's answer.")
    duration_ms: float = strawberry.field(description="How long the attempt took, in milliseconds.")

    @classmethod
    def of(cls, a: webhooks.Attempt) -> WebhookAttempt:
        return cls(
            attempt=a.attempt,
            at=a.at,
            status_code=a.status_code,
            error=a.error,
            response_body=a.response,
            duration_ms=a.duration_ms,
        )


@strawberry.type(description="One event for one endpoint, and how its delivery went.")
class WebhookDelivery:
    event: strawberry.Private[webhooks.OutboxEvent]

    @strawberry.field(
        description="The `Relhealth-Delivery` header value: the same on every retry, so that "
        "receivers can deduplicate on it."
    )
    def delivery_id(self) -> str:
        return str(self.event.id)

    @strawberry.field(description="The `Relhealth-Event` header value, e.g. `alert.transition`.")
    def event_type(self) -> str:
        return self.event.event_type

    @strawberry.field(
        description="What makes the event unique for its endpoint (an event is never enqueued twice)."
    )
    def event_key(self) -> str:
        return self.event.event_key

    @strawberry.field(description="The JSON body sent.")
    def payload(self) -> str:
        return self.event.payload

    @strawberry.field(description="Pending, delivered or dead.")
    def status(self) -> WebhookDeliveryStatus:
        return WebhookDeliveryStatus(self.event.status)

    @strawberry.field(description="How many attempts were made.")
    def attempts(self) -> int:
        return self.event.attempts

    @strawberry.field(
        description="The HTTP status of the last attempt; null before one, or without an answer."
    )
    def last_status_code(self) -> int | None:
        return self.event.last_status_code

    @strawberry.field(description="Why the last attempt got no answer; null otherwise.")
    def last_error(self) -> str | None:
        return self.event.last_error

    @strawberry.field(description="When the next attempt is due; null once delivered or dead.")
    def next_attempt_at(self) -> datetime | None:
        return self.event.next_attempt_at if self.event.status == webhooks.PENDING else None

    @strawberry.field(description="When the event was enqueued.")
    def created_at(self) -> datetime:
        return self.event.created_at

    @strawberry.field(description="When the endpoint accepted it; null until then.")
    def delivered_at(self) -> datetime | None:
        return self.event.delivered_at

    @strawberry.field(description="Every attempt, the first first.")
    async def attempt_log(self, info: ContextInfo) -> list[WebhookAttempt]:
        found = await info.context.loaders.webhook_attempts.load(self.event.id)
        return [WebhookAttempt.of(a) for a in found]


@strawberry.type(
    description="A URL that receives the organization's events as signed JSON POSTs "
    '(README "Webhooks"). Its secret is shown once, by `createWebhookEndpoint`.'
)
class WebhookEndpoint(Node):
    endpoint: strawberry.Private[webhooks.Endpoint]

    @classmethod
    def of(cls, endpoint: webhooks.Endpoint) -> WebhookEndpoint:
        return cls(id=global_id("WebhookEndpoint", endpoint.id), endpoint=endpoint)

    @strawberry.field(description="Where events are POSTed (http or https).")
    def url(self) -> str:
        return self.endpoint.url

    @strawberry.field(description="The event types it receives (and `PING` when pinged).")
    def event_types(self) -> list[WebhookEventType]:
        return [WebhookEventType(t) for t in self.endpoint.event_types]

    @strawberry.field(description="False: nothing new is enqueued for it and pending events wait.")
    def enabled(self) -> bool:
        return self.endpoint.enabled

    @strawberry.field(description="When it was created.")
    def created_at(self) -> datetime:
        return self.endpoint.created_at

    @strawberry.field(description="Its events and their delivery, newest first.")
    async def deliveries(
        self, info: ContextInfo, first: _PAGE = DEFAULT_PAGE, after: _AFTER = None
    ) -> Connection[WebhookDelivery]:
        offset, limit = page_window(first, after)
        events, total = await webhooks.events_page(
            info.context.accounts.engine, self.endpoint.id, offset, limit
        )
        return Connection.of([WebhookDelivery(event=e) for e in events], offset, total)
