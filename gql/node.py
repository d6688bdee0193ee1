"""Relay's `Node`: every object that can be fetched again by its global id."""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object with a global id: `node(id:)` fetches it again. Ids are opaque "
    "strings; those of scoped health objects include their scope."
)
class Node:
    id: strawberry.ID = strawberry.field(description="The object's global id.")
