"""API v2's cost model: which fields query the database, and how long each list is (a
connection's page, a series from the health scope's window and its interval). The walk
is `gql.core.cost`; the rules shared with v1 are in `gql.core.cost_rules`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gql.core.cost_rules import (
    BREAKDOWN_CHECKPOINTS,
    FALLBACK_SERIES,
    CostLimits,
    CostModel,
    SizeRule,
    Sizing,
    connection,
    constant,
    length_of,
    page,
    passing,
    series,
    sessions_budget,
)
from jobs.webhooks import MAX_ATTEMPTS
from resolvers.comparison import METRICS
from resolvers.timewindow import InvalidStatsPeriod, parse_stats_period

#: The longest health-scope window (90 days and an hour of widening), in seconds.
MAX_WINDOW = 90 * 86400 + 3600


def _scope_window(scope: Any) -> float:
    """Seconds of a `HealthScope`'s window; the longest one when it cannot be read."""
    try:
        window = scope["window"]
        if window.get("period") is not None:
            return float(parse_stats_period(str(window["period"].value)).seconds)
        span = window["range"]
        seconds: float = (span["end"] - span["start"]).total_seconds()
        return max(0.0, seconds)
    except (KeyError, TypeError, AttributeError, InvalidStatsPeriod):
        return float(MAX_WINDOW)


def _scoped(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return 1, Sizing(window=_scope_window(args.get("scope")))


def _scoped_series(args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    interval = args.get("interval")
    seconds = getattr(interval, "seconds", None)
    if not isinstance(seconds, int) or seconds <= 0:
        return 1, Sizing(series=FALLBACK_SERIES)
    return 1, Sizing(series=int((parent.window or MAX_WINDOW) // seconds) + 1)


#: API v2: the fields that query the database.
V2_DATABASE_FIELDS = frozenset(
    {
        "Query.project",
        "Query.release",
        "Query.node",
        "Query.nodes",
        "Query.sessions",
        "Release.project",
        "Project.release",
        "Project.releases",
        "Project.ingestOutcomes",
        "Organization.projects",
        "Organization.environments",
        # Health gates: reads batched per page, writes one statement or two each.
        "Project.healthGates",
        "HealthGate.project",
        "ReleaseHealth.gate",
        "Mutation.createHealthGate",
        "Mutation.updateHealthGate",
        "Mutation.deleteHealthGate",
        # Alert rules: reads batched per page (rules, their states and incidents), writes
        # one statement or a few each.
        "Project.alertRules",
        "AlertRule.project",
        "AlertRule.states",
        "AlertRule.incidents",
        "Mutation.createAlertRule",
        "Mutation.updateAlertRule",
        "Mutation.deleteAlertRule",
        # Webhooks: endpoints are one statement per organization, deliveries one per
        # endpoint, attempts batched per page.
        "Organization.webhookEndpoints",
        "WebhookEndpoint.deliveries",
        "WebhookDelivery.attemptLog",
        "Mutation.createWebhookEndpoint",
        "Mutation.updateWebhookEndpoint",
        "Mutation.deleteWebhookEndpoint",
        "Mutation.pingWebhookEndpoint",
        # ReleaseHealth's numbers share one loader per page; each field still
        # counts, which keeps the estimate on the safe side).
        "OrganizationHealth.releases",
        "OrganizationHealth.projects",
        "ProjectHealth.releases",
        "ProjectHealth.breakdown",
        "ProjectHealth.versions",
        "ProjectHealth.sessions",
        "ProjectHealth.users",
        "ProjectHealth.crashFreeSessionRate",
        "ProjectHealth.crashFreeUserRate",
        "ProjectHealth.hasSessionData",
        *(
            f"ReleaseHealth.{name}"
            for name in (
                "sessions",
                "users",
                "crashFreeSessionRate",
                "crashFreeUserRate",
                "unhandledSessionRate",
                "unhandledUserRate",
                "sessionsByStatus",
                "durationP50Seconds",
                "durationP90Seconds",
                "hasSessionData",
                "adoption",
                "adoptionStage",
                "firstSessionAt",
                "lastSessionAt",
                "series",
                "adoptionSeries",
                "crashFreeCheckpoints",
                "breakdown",
                "comparison",
            )
        ),
    }
)

#: API v2's sized fields.
V2_RULES: dict[str, SizeRule] = {
    "Query.sessions": sessions_budget,
    "Query._entities": length_of("representations"),
    "Release.health": _scoped,
    "Project.health": _scoped,
    "Organization.health": _scoped,
    "ReleaseHealth.series": _scoped_series,
    "ReleaseHealth.adoptionSeries": _scoped_series,
    "ProjectHealth.previousPeriod": passing,
    "ReleaseHealth.crashFreeCheckpoints": constant(BREAKDOWN_CHECKPOINTS),
    # A comparison answers one row per compared rate.
    "ReleaseComparison.rates": constant(len(METRICS)),
    "Query.nodes": length_of("ids"),
    # At most one attempt per backoff step within 24 hours (jobs/webhooks.py).
    "WebhookDelivery.attemptLog": constant(MAX_ATTEMPTS),
    **{
        f"{owner}.{name}": connection
        for owner, names in (
            ("Organization", ("projects", "environments", "webhookEndpoints")),
            ("WebhookEndpoint", ("deliveries",)),
            ("OrganizationHealth", ("releases", "projects")),
            ("Project", ("releases", "ingestOutcomes", "healthGates", "alertRules")),
            ("AlertRule", ("incidents",)),
            ("ProjectHealth", ("releases", "breakdown", "versions")),
            ("ReleaseHealth", ("breakdown",)),
        )
        for name in names
    },
    **{
        f"{item}{part}": rule
        for item in (
            "ReleaseHealth",
            "ProjectHealth",
            "Project",
            "Environment",
            "GroupHealth",
            "IngestOutcome",
            "HealthGate",
            "AlertRule",
            "AlertIncident",
            "WebhookEndpoint",
            "WebhookDelivery",
        )
        for part, rule in (("Connection.nodes", page), ("Connection.edges", page), ("Edge.node", passing))
    },
    **{
        f"HealthSeries.{name}": series
        for name in (
            "intervals",
            "total",
            "healthy",
            "errored",
            "crashed",
            "abnormal",
            "unhandled",
            "durationP50Seconds",
            "durationP90Seconds",
        )
    },
    "AdoptionSeries.intervals": series,
    "AdoptionSeries.rate": series,
    **{
        f"{item}{part}": rule
        for item in ("Release",)
        for part, rule in (("Connection.nodes", page), ("Connection.edges", page), ("Edge.node", passing))
    },
}

V2_MODEL = CostModel(V2_DATABASE_FIELDS, V2_RULES)
