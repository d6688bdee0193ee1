# mypy: disable-error-code="untyped-decorator"
"""API v2's root `Mutation`: every domain's mutations (health gates, alert rules, webhook
endpoints) in one type."""

from __future__ import annotations

import strawberry

from gql.alerts.mutations import AlertMutation
from gql.gates.mutations import Mutation as HealthGateMutations
from gql.webhooks.mutations import WebhookMutations


@strawberry.type(
    name="Mutation",
    description="The operations that change data. Every one needs a token with `org:write`.",
)
class Mutation(HealthGateMutations, AlertMutation, WebhookMutations):
    pass
