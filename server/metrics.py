"""Prometheus metrics: process-local request metrics plus the persistent ingest counters
read from the store at scrape time (they survive restarts and add up across workers).

Per-tenant series (ingest counters labelled by `project_id`) are only rendered for a
scraper that presents `RELHEALTH_METRICS_TOKEN`; without a configured token `/metrics` is
open but shows the ingest counters summed over every project, so an open endpoint never
lists the tenants' projects or their volumes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from storage.protocol import Store

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "relhealth_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "relhealth_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.query_latency = Histogram(
            "relhealth_query_duration_seconds",
            "Latency of release-health queries by API (graphql, sessions).",
            ["api"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    async def render(self, store: Store, inbox_depth: int, *, per_tenant: bool) -> bytes:
        lines = [
            "# HELP relhealth_ingest_items_accepted_total Accepted session items and aggregate buckets.",
            "# TYPE relhealth_ingest_items_accepted_total counter",
        ]
        dropped = [
            "# HELP relhealth_ingest_items_dropped_total Dropped session items and buckets by reason.",
            "# TYPE relhealth_ingest_items_dropped_total counter",
        ]
        normalized = [
            "# HELP relhealth_ingest_items_normalized_total Accepted items that were normalized, by kind.",
            "# TYPE relhealth_ingest_items_normalized_total counter",
        ]
        totals: dict[tuple[str, str, str, str], int] = {}
        for project_id, item_type, kind, reason, count in await store.outcome_totals():
            key = (str(project_id) if per_tenant else "", item_type, kind, reason)
            totals[key] = totals.get(key, 0) + count
        for (project, item_type, kind, reason), count in sorted(totals.items()):
            labels = f'item_type="{item_type}"'
            if per_tenant:
                labels = f'project_id="{project}",{labels}'
            if kind == "accepted":
                lines.append(f"relhealth_ingest_items_accepted_total{{{labels}}} {count}")
            elif kind == "dropped":
                dropped.append(f'relhealth_ingest_items_dropped_total{{{labels},reason="{reason}"}} {count}')
            else:
                normalized.append(
                    f'relhealth_ingest_items_normalized_total{{{labels},reason="{reason}"}} {count}'
                )
        inbox = [
            "# HELP relhealth_ingest_inbox_depth Envelopes waiting to be committed.",
            "# TYPE relhealth_ingest_inbox_depth gauge",
            f"relhealth_ingest_inbox_depth {inbox_depth}",
        ]
        text = "\n".join([*lines, *dropped, *normalized, *inbox]) + "\n"
        return generate_latest(self.registry) + text.encode()
