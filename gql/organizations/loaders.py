"""Loaders of an organization's records: its projects and its environments."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from storage.accounts import AccountStore, ProjectInfo
from storage.protocol import Store


class ProjectsByOrgLoader(DataLoader[int, list[ProjectInfo]]):
    def __init__(self, accounts: AccountStore) -> None:
        async def load(org_ids: Sequence[int]) -> list[list[ProjectInfo]]:
            return [await accounts.projects_of_org(org) for org in org_ids]

        super().__init__(load_fn=load)


class EnvironmentsByOrgLoader(DataLoader[int, dict[str, int]]):
    """Environment records (name -> id) of an organization, read once per request."""

    def __init__(self, store: Store) -> None:
        async def load(org_ids: Sequence[int]) -> list[dict[str, int]]:
            return [await store.environments(org) for org in org_ids]

        super().__init__(load_fn=load)
