# mypy: disable-error-code="untyped-decorator"
"""Managing webhook endpoints (org:write), and `pingWebhookEndpoint`, which enqueues a
test event through the same outbox every other event goes through. Input problems are
`userErrors`, as the health gates' mutations answer them."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from gql.core.context import ContextInfo
from gql.core.ids import record_id_of
from gql.core.permissions import require_write
from gql.gates.mutations import UserError, UserErrorCode
from gql.webhooks.types import WebhookDelivery, WebhookEndpoint, WebhookEventType
from jobs.webhook_urls import check_url
from storage import webhooks


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="Where to POST events: an http or https URL.")
    event_types: list[WebhookEventType] = strawberry.field(
        description="The event types to receive (not `PING`: every endpoint can be pinged)."
    )
    enabled: bool = strawberry.field(default=True, description="False: create it paused.")


@strawberry.input(description="Changes to a webhook endpoint; a field left null stays as it is.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.field(default=None, description="A new http or https URL.")
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The event types to receive from now on."
    )
    enabled: bool | None = strawberry.field(
        default=None, description="False pauses it: nothing new is enqueued and pending events wait."
    )


@strawberry.type(description="The result of `createWebhookEndpoint`.")
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The new endpoint; null when refused."
    )
    secret: str | None = strawberry.field(
        description='The signing secret (README "Webhooks": verifying a delivery). Shown '
        "only here, once; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `updateWebhookEndpoint`.")
class UpdateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The endpoint as changed; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `deleteWebhookEndpoint`.")
class DeleteWebhookEndpointPayload:
    deleted_webhook_endpoint_id: strawberry.ID | None = strawberry.field(
        description="The deleted endpoint's id; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of `pingWebhookEndpoint`.")
class PingWebhookEndpointPayload:
    delivery: WebhookDelivery | None = strawberry.field(
        description="The enqueued `ping` event, delivered within seconds; null when refused."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


def _endpoint_id(id: str) -> int:
    return record_id_of(id, "WebhookEndpoint", "webhook endpoint")


async def _invalid(
    info: ContextInfo, url: str | None, types: list[WebhookEventType] | None
) -> list[UserError]:
    errors = []
    if url is not None:
        problem = await check_url(url, info.context.webhook_allow_private)
        if problem is not None:
            errors.append(UserError(field=["input", "url"], message=problem, code=UserErrorCode.INVALID))
    if types is not None and WebhookEventType.PING in types:
        errors.append(
            UserError(
                field=["input", "eventTypes"],
                message="PING is not subscribed to: every endpoint can be pinged.",
                code=UserErrorCode.INVALID,
            )
        )
    return errors


def _names(types: list[WebhookEventType]) -> list[str]:
    return [t.value for t in types]


_GONE = UserError(field=["id"], message="No such webhook endpoint.", code=UserErrorCode.NOT_FOUND)
_ID = Annotated[strawberry.ID, strawberry.argument(description="The endpoint's global id.")]


@strawberry.type(description="Webhook endpoints' mutations.")
class WebhookMutations:
    @strawberry.mutation(description="Create a webhook endpoint; its signing secret is in the payload, once.")
    async def create_webhook_endpoint(
        self,
        info: ContextInfo,
        input: Annotated[
            CreateWebhookEndpointInput, strawberry.argument(description="The URL and event types.")
        ],
    ) -> CreateWebhookEndpointPayload:
        org_id = require_write(info, "webhook endpoints")
        errors = await _invalid(info, input.url, input.event_types)
        if errors:
            return CreateWebhookEndpointPayload(webhook_endpoint=None, secret=None, user_errors=errors)
        endpoint = await webhooks.create_endpoint(
            info.context.accounts.engine,
            org_id,
            input.url,
            _names(input.event_types),
            input.enabled,
            now=info.context.now,
        )
        return CreateWebhookEndpointPayload(
            webhook_endpoint=WebhookEndpoint.of(endpoint), secret=endpoint.secret, user_errors=[]
        )

    @strawberry.mutation(description="Change a webhook endpoint's URL, event types or state.")
    async def update_webhook_endpoint(
        self,
        info: ContextInfo,
        id: _ID,
        input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(description="What to change.")],
    ) -> UpdateWebhookEndpointPayload:
        org_id = require_write(info, "webhook endpoints")
        endpoint_id = _endpoint_id(id)
        errors = await _invalid(info, input.url, input.event_types)
        if errors:
            return UpdateWebhookEndpointPayload(webhook_endpoint=None, user_errors=errors)
        endpoint = await webhooks.update_endpoint(
            info.context.accounts.engine,
            org_id,
            endpoint_id,
            url=input.url,
            event_types=None if input.event_types is None else _names(input.event_types),
            enabled=input.enabled,
        )
        if endpoint is None:
            return UpdateWebhookEndpointPayload(webhook_endpoint=None, user_errors=[_GONE])
        return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpoint.of(endpoint), user_errors=[])

    @strawberry.mutation(description="Delete a webhook endpoint, its pending events and its delivery log.")
    async def delete_webhook_endpoint(self, info: ContextInfo, id: _ID) -> DeleteWebhookEndpointPayload:
        org_id = require_write(info, "webhook endpoints")
        if not await webhooks.delete_endpoint(info.context.accounts.engine, org_id, _endpoint_id(id)):
            return DeleteWebhookEndpointPayload(deleted_webhook_endpoint_id=None, user_errors=[_GONE])
        return DeleteWebhookEndpointPayload(deleted_webhook_endpoint_id=id, user_errors=[])

    @strawberry.mutation(
        description="Enqueue a `ping` event for one enabled endpoint, delivered (signed, with "
        "retries) like every other event: a way to test a receiver."
    )
    async def ping_webhook_endpoint(self, info: ContextInfo, id: _ID) -> PingWebhookEndpointPayload:
        org_id = require_write(info, "webhook endpoints")
        endpoint_id = _endpoint_id(id)
        engine = info.context.accounts.engine
        endpoint = (await webhooks.endpoints_by_ids(engine, org_id, [endpoint_id])).get(endpoint_id)
        if endpoint is None:
            return PingWebhookEndpointPayload(delivery=None, user_errors=[_GONE])
        if not endpoint.enabled:
            disabled = UserError(
                field=["id"], message="The endpoint is disabled.", code=UserErrorCode.INVALID
            )
            return PingWebhookEndpointPayload(delivery=None, user_errors=[disabled])
        now = info.context.now
        key = f"ping:{uuid.uuid4()}"
        payload = {"type": webhooks.PING, "endpoint": str(WebhookEndpoint.of(endpoint).id), "at": now}
        async with engine.begin() as conn:
            ids = await webhooks.enqueue(
                conn, org_id, webhooks.PING, key, payload, at=now, endpoint_ids=[endpoint_id]
            )
        event = webhooks.OutboxEvent(
            id=ids[0],
            endpoint_id=endpoint_id,
            event_type=webhooks.PING,
            event_key=key,
            payload=webhooks.encode(payload),
            status=webhooks.PENDING,
            attempts=0,
            next_attempt_at=webhooks.utc(now),
            created_at=webhooks.utc(now),
            delivered_at=None,
        )
        return PingWebhookEndpointPayload(delivery=WebhookDelivery(event=event), user_errors=[])
