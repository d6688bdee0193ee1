"""`DimensionFilter`: one client-dimension value (`os.name = iOS`), the one input every v2
field that narrows numbers to a dimension takes (release comparison, health gates)."""

from __future__ import annotations

import strawberry

from gql.core.enums import ClientDimension


@strawberry.input(description="Only sessions with one value of a client dimension.")
class DimensionFilter:
    dimension: ClientDimension = strawberry.field(description="The dimension, e.g. `OS`.")
    value: str = strawberry.field(description="Its value, e.g. `iOS` for `OS` (at most 256 characters).")
