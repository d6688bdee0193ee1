# mypy: disable-error-code="untyped-decorator"
"""API v2's `Mutation`: the health-gate and alert-rule mutations in one root type."""

from __future__ import annotations

import strawberry

from gql.alerts.mutations import AlertMutation
from gql.gates.mutations import Mutation as GateMutation


@strawberry.type(
    name="Mutation",
    description="The operations that change data. Every one needs a token with `org:write`.",
)
class Mutation(GateMutation, AlertMutation):
    pass
