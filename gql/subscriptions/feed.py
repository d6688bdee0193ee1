"""One subscription's stream of events: its arguments checked before it starts (so a
mistake is the protocol's `error` message, not a stream), then the missed events replayed
from the log (`after`), then the live ones from the broadcaster, each once, in id order."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

import strawberry

from gql.core.context import Context
from gql.core.errors import BadUserInput, CodedError
from gql.core.ids import project_id_of, record_id_of
from gql.subscriptions.broadcaster import EventFilter, Overflow, ReplayTooLong, replay
from gql.subscriptions.hub import SubscriptionHub, TooManySubscriptions
from gql.subscriptions.types import EVENT_TYPE_NAME
from storage.events import Event

#: Projects one subscription may name (each is a lookup when it starts).
MAX_PROJECTS = 100


class NotFound(CodedError):
    code = "NOT_FOUND"


class SubscriptionsUnavailable(CodedError):
    code = "SUBSCRIPTIONS_UNAVAILABLE"


class TooManySubscriptionsError(CodedError):
    code = "TOO_MANY_SUBSCRIPTIONS"


class SubscriptionOverflow(CodedError):
    code = "SUBSCRIPTION_OVERFLOW"


class ReplayTooLongError(CodedError):
    code = "REPLAY_TOO_LONG"


@dataclass
class Feed:
    hub: SubscriptionHub
    context: Context
    filter: EventFilter
    after: int | None

    async def events(self) -> AsyncGenerator[Event, None]:
        hub, ctx = self.hub, self.context
        hub.acquire(ctx.budget_key)  # checked in `open_feed`; raced only by the same token
        try:
            await hub.broadcaster.refresh()
        except BaseException:
            hub.release(ctx.budget_key)
            raise
        subscriber = hub.broadcaster.subscribe(self.filter, hub.limits.queue_size)
        try:
            # Everything after `subscriber.position` arrives through the queue; what came
            # before it and after `after` is read from the log. An `after` beyond the
            # position (an id this process has not dispatched yet) skips those too.
            last = subscriber.position if self.after is None else self.after
            if self.after is not None and self.after < subscriber.position:
                try:
                    async for e in replay(
                        hub.engine, self.filter, self.after, subscriber.position, hub.limits.replay_limit
                    ):
                        last = e.id
                        ctx.renew()
                        yield e
                except ReplayTooLong as exc:
                    raise ReplayTooLongError(
                        f"More than {exc.limit} events were committed after `after`; subscribe "
                        "without `after` (or with a later one)."
                    ) from None
                last = max(last, subscriber.position)
            while True:
                try:
                    e = await subscriber.get()
                except Overflow:
                    raise SubscriptionOverflow(
                        f"This subscription fell more than {subscriber.capacity} events behind and "
                        "was closed; resubscribe with `after` set to the id of the last event received."
                    ) from None
                if e.id <= last:
                    continue
                last = e.id
                ctx.renew()
                yield e
        finally:
            hub.broadcaster.unsubscribe(subscriber)
            hub.release(ctx.budget_key)


async def open_feed(
    context: Context,
    types: Sequence[str],
    projects: Sequence[strawberry.ID] | None,
    *,
    environment: str | None = None,
    after: strawberry.ID | None = None,
) -> Feed:
    """The checked feed, or the coded error that refuses the subscription."""
    hub = context.subscriptions
    if not isinstance(hub, SubscriptionHub):
        raise SubscriptionsUnavailable(
            "Subscriptions are served over WebSocket at /graphql with the graphql-transport-ws protocol."
        )
    if context.refusal is not None:
        # The cost limit or budget refused the operation (Strawberry subscribes anyway).
        raise context.refusal
    project_ids: frozenset[int] | None = None
    if projects is not None:
        if len(projects) > MAX_PROJECTS:
            raise BadUserInput(f"`projects` names at most {MAX_PROJECTS} projects, not {len(projects)}.")
        ids = [project_id_of(p) for p in projects]
        found = await context.loaders.project_by_id.load_many(ids)
        for given, info in zip(projects, found, strict=True):
            if info is None:
                raise NotFound(f"No project {str(given)[:40]!r} in your organization.")
        project_ids = frozenset(ids)
    after_id = None if after is None else record_id_of(after, EVENT_TYPE_NAME, "event")
    try:
        hub.check(context.budget_key)
    except TooManySubscriptions:
        raise TooManySubscriptionsError(
            f"This token has {hub.limits.per_token} subscriptions open (the most allowed); "
            "complete one before starting another."
        ) from None
    event_filter = EventFilter(context.org_id, frozenset(types), project_ids, environment)
    return Feed(hub, context, event_filter, after_id)
