"""A dimension-filtered release's numbers for health gates: one sessions query per
project, scope, dimension value and page of releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from strawberry.dataloader import DataLoader

from gql.core.context import Context
from gql.core.scope import Scope
from gql.health.scoped import EMPTY, Summary, grouped_in, quoted
from storage.types import ProjectRelease


@dataclass(frozen=True, slots=True)
class DimensionKey:
    """A release's totals in a scope, narrowed to one client-dimension value."""

    pair: ProjectRelease
    scope: Scope
    dimension: str
    value: str


class DimensionSummaryLoader(DataLoader[DimensionKey, Summary]):
    """The releases of one project asked in one scope and dimension value are one sessions
    query grouped by release (`release:[...]` and the dimension as its filter)."""

    def __init__(self, ctx: Context) -> None:
        async def load(keys: Sequence[DimensionKey]) -> list[Summary]:
            found: dict[DimensionKey, Summary] = {}
            groups = dict.fromkeys((k.pair[0], k.scope, k.dimension, k.value) for k in keys)
            for project, scope, dimension, value in groups:
                members = [
                    k
                    for k in keys
                    if (k.pair[0], k.scope, k.dimension, k.value) == (project, scope, dimension, value)
                ]
                releases = list(dict.fromkeys(k.pair[1] for k in members))
                where = f"{dimension}:{quoted(value)} release:[{', '.join(quoted(r) for r in releases)}]"
                rows = await grouped_in(ctx, scope, [project], ("release",), where=where)
                by_release = {g.by.get("release"): Summary.of(g) for g in rows}
                for k in members:
                    found[k] = by_release.get(k.pair[1], EMPTY)
            return [found[k] for k in keys]

        super().__init__(load_fn=load)


def dimension_loader(ctx: Context) -> DimensionSummaryLoader:
    """The request's `DimensionSummaryLoader`, made on first use (it needs the context)."""
    loaders = ctx.loaders
    if loaders.gate_dimension is None:
        loaders.gate_dimension = DimensionSummaryLoader(ctx)
    return loaders.gate_dimension
