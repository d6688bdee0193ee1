"""Loaders of health gates by id and by project: one statement per batch, whatever the
page (`gql/loaders.py` builds them per request)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from storage import gates


class GateByIdLoader(DataLoader[int, gates.Gate | None]):
    """The caller's organization's gates; another organization's load as None."""

    def __init__(self, engine: AsyncEngine, org_id: int) -> None:
        async def load(ids: Sequence[int]) -> list[gates.Gate | None]:
            found = await gates.by_ids(engine, org_id, ids)
            return [found.get(i) for i in ids]

        super().__init__(load_fn=load)


class GatesByProjectLoader(DataLoader[int, list[gates.Gate]]):
    def __init__(self, engine: AsyncEngine, org_id: int) -> None:
        async def load(project_ids: Sequence[int]) -> list[list[gates.Gate]]:
            found = await gates.by_projects(engine, org_id, list(project_ids))
            return [found[p] for p in project_ids]

        super().__init__(load_fn=load)
