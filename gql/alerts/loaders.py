"""Loaders of alert rules by id and by project, and of incidents by rule: one statement
per batch, whatever the page (`gql/loaders.py` builds them per request)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.dataloader import DataLoader

from storage import alerts


class AlertRuleByIdLoader(DataLoader[int, alerts.AlertRule | None]):
    """The caller's organization's rules; another organization's load as None."""

    def __init__(self, engine: AsyncEngine, org_id: int) -> None:
        async def load(ids: Sequence[int]) -> list[alerts.AlertRule | None]:
            found = await alerts.by_ids(engine, org_id, ids)
            return [found.get(i) for i in ids]

        super().__init__(load_fn=load)


class AlertRulesByProjectLoader(DataLoader[int, list[alerts.AlertRule]]):
    def __init__(self, engine: AsyncEngine, org_id: int) -> None:
        async def load(project_ids: Sequence[int]) -> list[list[alerts.AlertRule]]:
            found = await alerts.by_projects(engine, org_id, list(project_ids))
            return [found[p] for p in project_ids]

        super().__init__(load_fn=load)


class IncidentsByRuleLoader(DataLoader[int, list[alerts.Incident]]):
    """Incidents of rules already authorized (loaded through the loaders above)."""

    def __init__(self, engine: AsyncEngine) -> None:
        async def load(rule_ids: Sequence[int]) -> list[list[alerts.Incident]]:
            found = await alerts.incidents(engine, list(rule_ids))
            return [found[r] for r in rule_ids]

        super().__init__(load_fn=load)


class StatesByRuleLoader(DataLoader[int, dict[str, alerts.State]]):
    """The current level of each release of rules already authorized."""

    def __init__(self, engine: AsyncEngine) -> None:
        async def load(rule_ids: Sequence[int]) -> list[dict[str, alerts.State]]:
            found = await alerts.states_of(engine, list(rule_ids))
            return [found[r] for r in rule_ids]

        super().__init__(load_fn=load)
