"""The health event log (issue 10 section 4): every alert transition, gate verdict change
and adoption-stage change, once, in the order it was committed.

`publish` runs inside the transaction of the state change it reports, like the webhook
outbox it feeds: the change, its event and its deliveries commit together or not at all.
The event key is unique, so re-evaluating a change that was already committed adds no
second event and no second delivery. Subscriptions (`gql/subscriptions/`) read the log by
id, so every process's subscribers see the events of the one evaluator, whichever
process that is; on PostgreSQL `publish` also sends a `NOTIFY` on `CHANNEL` (delivered
at commit) so listeners need not wait for their next poll."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, Table, Text, UniqueConstraint, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from storage import webhooks

#: The PostgreSQL notification channel; the payload is the new event's id.
CHANNEL = "relhealth_health_event"

ALERT_TRANSITION = "alert.transition"
GATE_VERDICT_CHANGED = "gate.verdict_changed"
ADOPTION_STAGE_CHANGED = "adoption.stage_changed"
#: The types of `health_event`, which are also the webhook event types.
EVENT_TYPES = (ALERT_TRANSITION, GATE_VERDICT_CHANGED, ADOPTION_STAGE_CHANGED)


class HealthEventRow(SQLModel, table=True):
    __tablename__ = "health_event"
    __table_args__ = (
        UniqueConstraint("event_key", name="uq_health_event_key"),
        # A subscriber's read: its organization's events after the last id it saw.
        Index("ix_health_event_org_id", "org_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(sa_column=Column(Integer, ForeignKey("organization.id"), nullable=False))
    project_id: int = Field(sa_column=Column(Integer, ForeignKey("project.id"), nullable=False))
    event_type: str = Field(max_length=64)
    #: What makes the event unique (a rule, release, instant and level, say).
    event_key: str = Field(max_length=512)
    #: The event as webhooks send it (JSON, `storage.webhooks.encode`).
    payload: str = Field(sa_column=Column(Text, nullable=False))
    #: The instant the event describes (the evaluated minute), not when it was written.
    at: datetime


HEALTH_EVENT: Table = HealthEventRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    org_id: int
    project_id: int
    event_type: str
    event_key: str
    #: The decoded payload.
    payload: dict[str, Any]
    at: datetime


async def publish(
    conn: AsyncConnection,
    *,
    org_id: int,
    project_id: int,
    event_type: str,
    event_key: str,
    payload: Mapping[str, Any],
    at: float,
) -> int | None:
    """Record one event in the caller's transaction and enqueue it for every subscribed
    webhook endpoint of the organization. Returns the new event's id, or None when the
    key was already recorded (then nothing is enqueued either)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(HEALTH_EVENT)
        .values(
            org_id=org_id,
            project_id=project_id,
            event_type=event_type,
            event_key=event_key,
            payload=webhooks.encode(payload),
            at=datetime.fromtimestamp(at, UTC),
        )
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(HEALTH_EVENT.c.id)
    )
    new_id = (await conn.execute(statement)).scalar()
    if new_id is None:
        return None
    await webhooks.enqueue(conn, org_id, event_type, event_key, payload, at=at)
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(new_id)})
    return int(new_id)


async def events_after(
    engine: AsyncEngine,
    after: int,
    *,
    org_ids: Sequence[int] | None = None,
    types: Sequence[str] | None = None,
    limit: int = 500,
) -> list[Event]:
    """Committed events with an id above `after`, oldest first, at most `limit`."""
    statement = select(HEALTH_EVENT).where(HEALTH_EVENT.c.id > after)
    if org_ids is not None:
        statement = statement.where(HEALTH_EVENT.c.org_id.in_(list(org_ids)))
    if types is not None:
        statement = statement.where(HEALTH_EVENT.c.event_type.in_(list(types)))
    statement = statement.order_by(HEALTH_EVENT.c.id).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(statement)).all()
    return [_event(r) for r in rows]


async def last_id(engine: AsyncEngine) -> int:
    """The id of the newest committed event; 0 when there is none."""
    async with engine.connect() as conn:
        value = (await conn.execute(select(func.max(HEALTH_EVENT.c.id)))).scalar()
    return int(value or 0)


def _event(r: Any) -> Event:
    at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=UTC)
    return Event(
        id=int(r.id),
        org_id=int(r.org_id),
        project_id=int(r.project_id),
        event_type=str(r.event_type),
        event_key=str(r.event_key),
        payload=json.loads(r.payload),
        at=at,
    )
