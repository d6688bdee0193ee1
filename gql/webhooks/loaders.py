"""Loaders of webhook endpoints by id and of delivery attempts by event: one statement
per batch (`gql/loaders.py` builds them per request)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from storage import webhooks


class WebhookEndpointByIdLoader(DataLoader[int, webhooks.Endpoint | None]):
    """The caller's organization's endpoints; another organization's load as None."""

    def __init__(self, engine: AsyncEngine, org_id: int) -> None:
        async def load(ids: Sequence[int]) -> list[webhooks.Endpoint | None]:
            found = await webhooks.endpoints_by_ids(engine, org_id, ids)
            return [found.get(i) for i in ids]

        super().__init__(load_fn=load)


class AttemptsByEventLoader(DataLoader[int, list[webhooks.Attempt]]):
    """Every attempt of each event (events reach it only through their endpoint, which
    is already the caller's)."""

    def __init__(self, engine: AsyncEngine) -> None:
        async def load(ids: Sequence[int]) -> list[list[webhooks.Attempt]]:
            found = await webhooks.attempts_of(engine, list(ids))
            return [found[i] for i in ids]

        super().__init__(load_fn=load)
