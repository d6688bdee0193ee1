# mypy: disable-error-code="untyped-decorator"
"""API v2's root `Subscription`: alert transitions, gate verdict changes and adoption-stage
changes of the token's organization, over `graphql-transport-ws` at /graphql."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, TypeVar

import strawberry

from gql.core.context import ContextInfo
from gql.subscriptions.feed import Feed, open_feed
from gql.subscriptions.types import AdoptionStageChangeEvent, AlertTransitionEvent, GateVerdictChangeEvent
from storage import events
from storage.events import Event

T = TypeVar("T")

_PROJECTS = Annotated[
    list[strawberry.ID] | None,
    strawberry.argument(
        description="Only these projects (global or numeric ids, at most 100); null: every project "
        "of the organization."
    ),
]
_AFTER = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="Resume after this event id (the `id` of the last event received): the events "
        "committed since are sent first, then the live ones. Null: only events from now on."
    ),
]


async def _each(feed: Feed, make: Callable[[Event], T]) -> AsyncIterator[T]:
    # Closing this stream closes the feed at once (its `finally` frees the slot).
    async with aclosing(feed.events()) as stream:
        async for e in stream:
            yield make(e)


@strawberry.type(
    description="Changes as they are committed, over WebSocket at /graphql (graphql-transport-ws). "
    "Each event is sent once, in commit order; resubscribe with `after` to miss none."
)
class Subscription:
    @strawberry.subscription(description="Alert transitions (a rule's level for a release changed).")
    async def alert_transitions(
        self, info: ContextInfo, projects: _PROJECTS = None, after: _AFTER = None
    ) -> AsyncIterator[AlertTransitionEvent]:
        feed = await open_feed(info.context, [events.ALERT_TRANSITION], projects, after=after)
        return _each(feed, AlertTransitionEvent.of)

    @strawberry.subscription(description="Health gate verdict changes (a gate's verdict on a release).")
    async def gate_verdict_changes(
        self, info: ContextInfo, projects: _PROJECTS = None, after: _AFTER = None
    ) -> AsyncIterator[GateVerdictChangeEvent]:
        feed = await open_feed(info.context, [events.GATE_VERDICT_CHANGED], projects, after=after)
        return _each(feed, GateVerdictChangeEvent.of)

    @strawberry.subscription(description="Adoption-stage changes of a project's releases.")
    async def adoption_stage_changes(
        self,
        info: ContextInfo,
        project: Annotated[
            strawberry.ID, strawberry.argument(description="The project (global or numeric id).")
        ],
        environment: Annotated[
            str | None, strawberry.argument(description="Only this environment; null: every environment.")
        ] = None,
        after: _AFTER = None,
    ) -> AsyncIterator[AdoptionStageChangeEvent]:
        feed = await open_feed(
            info.context, [events.ADOPTION_STAGE_CHANGED], [project], environment=environment, after=after
        )
        return _each(feed, AdoptionStageChangeEvent.of)
