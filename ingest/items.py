"""The per-item pipeline: validate, normalize and count one session item (`ingest.md` 10).

Steps in Relay's order: strict parse, clock-drift correction, timestamp raised to started,
time window, release validation, environment removal, unknown status. Everything an item
does to the ingest counters (15.1) becomes an OutcomeIncrement: a dropped item or bucket
counts once, under its drop reason; normalizations count only for accepted data.

Inbound filters (`filtered`) and rate limits (`rate_limited`) need configuration and state,
so they belong to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ingest.dimensions import client_dimensions
from ingest.envelope import Envelope
from ingest.payloads import (
    KNOWN_STATUSES,
    InvalidPayload,
    SessionAttributes,
    parse_session_aggregates,
    parse_session_update,
)
from ingest.quantities import bucket_increment, update_increment
from ingest.release import validate_environment, validate_release
from storage.types import ClientDimensions, OutcomeIncrement, OutcomeKind, WriteBatch

#: Oldest accepted session data, relative to the receive time (Relay
#: `max_session_secs_in_past`).
MAX_AGE_SECONDS = 5 * 24 * 3600
#: Newest accepted session data, relative to the receive time (Relay `max_secs_in_future`).
MAX_FUTURE_SECONDS = 60
#: Smaller differences between `sent_at` and the receive time are network latency or a
#: slightly wrong clock, not a clock in another timezone, and are left alone.
MIN_CLOCK_DRIFT_SECONDS = 55 * 60

Payload = bytes | str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ItemContext:
    """What one envelope (or import record) shares among its items.

    `received_at` and `sent_at` are unix seconds; `received_at` is the request's single
    receive time. `live=False` is bulk import: no clock drift, no time window, and a
    `session` without `init` whose `seq` is 0 counts as the initial update (15.2).
    """

    project_id: int
    received_at: float
    sent_at: float | None = None
    client_ip: str | None = None
    live: bool = True
    #: The envelope header's `sdk.name` and the request's `User-Agent` (ingest/dimensions.py).
    sdk_name: str | None = None
    user_agent: str | None = None

    def dimensions(self, attrs: SessionAttributes) -> ClientDimensions:
        """The client dimensions of a session (or aggregate) with these attributes."""
        return client_dimensions(self.sdk_name, attrs.user_agent, self.user_agent)

    def clock_drift(self) -> float:
        """Seconds to add to client timestamps (0 when no correction applies)."""
        if not self.live or self.sent_at is None:
            return 0.0
        drift = self.received_at - self.sent_at
        return drift if abs(drift) >= MIN_CLOCK_DRIFT_SECONDS else 0.0

    def window_violation(self, timestamp: float) -> str | None:
        """The drop reason when `timestamp` lies outside the live time window."""
        if not self.live:
            return None
        if self.received_at - timestamp > MAX_AGE_SECONDS:
            return "too_old"
        if timestamp - self.received_at > MAX_FUTURE_SECONDS:
            return "in_future"
        return None


def session_item(payload: Payload, ctx: ItemContext) -> WriteBatch:
    """Validate one `session` item and turn it into increments and outcomes."""
    batch = WriteBatch()
    try:
        update = parse_session_update(payload)
    except InvalidPayload:
        _count(batch, ctx, "session", "dropped", "invalid_payload")
        return batch

    normalized = []
    if update.init is None and not ctx.live and update.seq == 0:
        update.init = True

    drift = ctx.clock_drift()
    if drift:
        update.started += drift
        if update.timestamp is not None:
            update.timestamp += drift
        normalized.append("clock_drift_corrected")
    # The default is the server's own receive time, which needs no drift correction.
    timestamp = ctx.received_at if update.timestamp is None else update.timestamp
    if timestamp < update.started:
        timestamp = update.timestamp = update.started
        normalized.append("timestamp_raised_to_started")

    reason = ctx.window_violation(timestamp) or ctx.window_violation(update.started)
    if reason is None and not validate_release(update.attrs.release):
        reason = "invalid_release"
    environment = update.attrs.environment
    if environment is not None and not validate_environment(environment):
        environment = None
        normalized.append("environment_removed")
    if reason is None and update.status not in KNOWN_STATUSES:
        reason = "unknown_status"
    if reason is not None:
        _count(batch, ctx, "session", "dropped", reason)
        return batch

    increment = update_increment(ctx.project_id, update, environment)
    if increment is not None:
        increment.dimensions = ctx.dimensions(update.attrs)
        batch.increments.append(increment)
    _count(batch, ctx, "session", "accepted", "")
    for normalization in normalized:
        _count(batch, ctx, "session", "normalized", normalization)
    return batch


def sessions_item(payload: Payload, ctx: ItemContext) -> WriteBatch:
    """Validate one `sessions` item; outcome quantities count aggregate buckets."""
    batch = WriteBatch()
    try:
        aggregates = parse_session_aggregates(payload)
    except InvalidPayload:
        # The buckets are unknown, so the whole item counts once.
        _count(batch, ctx, "sessions", "dropped", "invalid_payload")
        return batch

    drift = ctx.clock_drift()
    buckets = []
    dropped: dict[str, int] = {}
    for bucket in aggregates.aggregates:
        bucket.started += drift
        reason = ctx.window_violation(bucket.started)
        if reason is None:
            buckets.append(bucket)
        else:
            dropped[reason] = dropped.get(reason, 0) + 1

    attrs = aggregates.attrs
    if buckets and not validate_release(attrs.release):
        dropped["invalid_release"] = dropped.get("invalid_release", 0) + len(buckets)
        buckets = []
    for reason, quantity in dropped.items():
        _count(batch, ctx, "sessions", "dropped", reason, quantity)
    if not buckets:
        return batch

    environment = attrs.environment
    kept = len(buckets)
    _count(batch, ctx, "sessions", "accepted", "", kept)
    if drift:
        _count(batch, ctx, "sessions", "normalized", "clock_drift_corrected", kept)
    if environment is not None and not validate_environment(environment):
        environment = None
        _count(batch, ctx, "sessions", "normalized", "environment_removed", kept)

    dimensions = ctx.dimensions(attrs)
    for bucket in buckets:
        increment = bucket_increment(ctx.project_id, attrs.release, environment, bucket)
        if increment is not None:
            increment.dimensions = dimensions
            batch.increments.append(increment)
    return batch


def envelope_batch(envelope: Envelope, ctx: ItemContext) -> WriteBatch:
    """Every `session` and `sessions` item of an envelope; other item types are ignored.

    Outcomes of the same (item type, kind, reason) are merged into one with the summed
    quantity.
    """
    batch = WriteBatch()
    for item in envelope.items:
        if item.type == "session":
            batch.extend(session_item(item.payload, ctx))
        elif item.type == "sessions":
            batch.extend(sessions_item(item.payload, ctx))
    batch.outcomes = merge_outcomes(batch.outcomes)
    return batch


def merge_outcomes(outcomes: list[OutcomeIncrement]) -> list[OutcomeIncrement]:
    """One outcome per (project, item type, kind, reason, received), quantities summed."""
    if len(outcomes) < 2:
        return outcomes
    merged: dict[tuple[int, str, str, str, float], OutcomeIncrement] = {}
    for outcome in outcomes:
        key = (
            outcome.project_id,
            outcome.item_type,
            outcome.kind,
            outcome.reason,
            outcome.received,
        )
        previous = merged.get(key)
        if previous is None:
            merged[key] = outcome
        else:
            merged[key] = OutcomeIncrement(
                previous.project_id,
                previous.item_type,
                previous.kind,
                previous.reason,
                previous.received,
                previous.quantity + outcome.quantity,
            )
    return list(merged.values())


def _count(
    batch: WriteBatch,
    ctx: ItemContext,
    item_type: str,
    kind: OutcomeKind,
    reason: str,
    quantity: int = 1,
) -> None:
    batch.outcomes.append(
        OutcomeIncrement(ctx.project_id, item_type, kind, reason, ctx.received_at, quantity)
    )


def dropped_as(batch: WriteBatch, reason: str) -> WriteBatch:
    """The same items dropped after all: nothing is stored, what was accepted counts as
    dropped with `reason`, earlier drops keep theirs and normalizations are forgotten (a
    dropped item counts once, under its drop reason)."""
    outcomes = [o for o in batch.outcomes if o.kind == "dropped"]
    outcomes += [
        OutcomeIncrement(o.project_id, o.item_type, "dropped", reason, o.received, o.quantity)
        for o in batch.outcomes
        if o.kind == "accepted"
    ]
    return WriteBatch(increments=[], outcomes=outcomes)
