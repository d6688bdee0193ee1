"""Webhooks (issue 10 section 4, docs/alerts.md "Webhooks"): an organization's endpoints,
the durable outbox of events to deliver to them, and the log of every delivery attempt.

The outbox is written by `enqueue` inside the caller's own transaction, so that a state
change and its notification commit together or not at all. Its unique key
`(endpoint, event key)` makes a re-evaluated transition a no-op instead of a second
event. `jobs/webhooks.py` claims due rows under a lease, POSTs them and records each
attempt here."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

#: Event types an endpoint may subscribe to. `ping` is sent by `pingWebhookEndpoint` to
#: the one endpoint pinged, whatever it subscribes to. The same as `storage.events.EVENT_TYPES`
#: (which imports this module, hence the repetition).
EVENT_TYPES = ("alert.transition", "gate.verdict_changed", "adoption.stage_changed")
PING = "ping"

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
#: Bytes of a receiver's answer kept in the delivery log.
RESPONSE_KEPT = 1024


class WebhookEndpointRow(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    url: str = Field(max_length=2048)
    #: The HMAC key; shown to the user once, at creation, and kept to sign with.
    secret: str = Field(max_length=128)
    #: The subscribed event types, a JSON list of `EVENT_TYPES` names.
    event_types: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime


class WebhookOutboxRow(SQLModel, table=True):
    __tablename__ = "webhook_outbox"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_key", name="uq_webhook_outbox_endpoint_key"),
        # The sender's scan: due pending rows, oldest first.
        Index("ix_webhook_outbox_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(sa_column=Column(Integer, ForeignKey("webhook_endpoint.id"), nullable=False))
    event_type: str = Field(max_length=64)
    #: What makes the event unique for its endpoint (an alert's rule, release, instant
    #: and level); the same key twice is one event.
    event_key: str = Field(max_length=512)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime
    #: Until when a sender owns the row; a sender that dies loses its lease then.
    lease_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class WebhookDeliveryRow(SQLModel, table=True):
    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_outbox.id"), nullable=False, index=True)
    )
    attempt: int
    at: datetime
    #: The receiver's HTTP status; None when no answer came (timeout, refused, ...).
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(String(512), nullable=True))
    #: The first `RESPONSE_KEPT` bytes of the answer, decoded leniently.
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    duration_ms: float = Field(sa_column=Column(Float, nullable=False))


ENDPOINT: Table = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
OUTBOX: Table = WebhookOutboxRow.__table__  # type: ignore[attr-defined]
DELIVERY: Table = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: int
    org_id: int
    url: str
    secret: str
    event_types: tuple[str, ...]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event for one endpoint: what the API calls a delivery."""

    id: int
    endpoint_id: int
    event_type: str
    event_key: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A due event claimed by a sender, with what it needs to send it."""

    id: int
    event_type: str
    payload: str
    attempts: int
    created_at: datetime
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class Attempt:
    outbox_id: int
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    response: str | None
    duration_ms: float


def encode(payload: Mapping[str, Any]) -> str:
    """An event's JSON body, compact and in a stable key order."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored one is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _endpoint(r: Any) -> Endpoint:
    m = r._mapping
    return Endpoint(
        id=int(m["id"]),
        org_id=int(m["org_id"]),
        url=m["url"],
        secret=m["secret"],
        event_types=tuple(json.loads(m["event_types"])),
        enabled=bool(m["enabled"]),
        created_at=_aware(m["created_at"]),
    )


# -- endpoints -----------------------------------------------------------------------------


async def create_endpoint(
    engine: AsyncEngine, org_id: int, url: str, event_types: Sequence[str], enabled: bool, *, now: float
) -> Endpoint:
    values = {
        "org_id": org_id,
        "url": url,
        "secret": new_secret(),
        "event_types": json.dumps(sorted(set(event_types))),
        "enabled": enabled,
        "created_at": utc(now),
    }
    async with engine.begin() as conn:
        result = await conn.execute(ENDPOINT.insert().values(**values))
    endpoint_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return _endpoint(_Row({"id": endpoint_id, **values}))


class _Row:
    """A mapping dressed as a result row, for `_endpoint`."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self._mapping = mapping


async def update_endpoint(
    engine: AsyncEngine,
    org_id: int,
    endpoint_id: int,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> Endpoint | None:
    """Change the fields given; None when the organization has no such endpoint."""
    values: dict[str, Any] = {}
    if url is not None:
        values["url"] = url
    if event_types is not None:
        values["event_types"] = json.dumps(sorted(set(event_types)))
    if enabled is not None:
        values["enabled"] = enabled
    if values:
        async with engine.begin() as conn:
            await conn.execute(
                update(ENDPOINT)
                .where(ENDPOINT.c.id == endpoint_id, ENDPOINT.c.org_id == org_id)
                .values(**values)
            )
    return (await endpoints_by_ids(engine, org_id, [endpoint_id])).get(endpoint_id)


async def delete_endpoint(engine: AsyncEngine, org_id: int, endpoint_id: int) -> bool:
    """Delete an endpoint with its outbox and delivery log (nothing more is sent to it)."""
    async with engine.begin() as conn:
        owned = await conn.scalar(
            select(ENDPOINT.c.id).where(ENDPOINT.c.id == endpoint_id, ENDPOINT.c.org_id == org_id)
        )
        if owned is None:
            return False
        events = select(OUTBOX.c.id).where(OUTBOX.c.endpoint_id == endpoint_id)
        await conn.execute(delete(DELIVERY).where(DELIVERY.c.outbox_id.in_(events)))
        await conn.execute(delete(OUTBOX).where(OUTBOX.c.endpoint_id == endpoint_id))
        await conn.execute(delete(ENDPOINT).where(ENDPOINT.c.id == endpoint_id))
    return True


async def endpoints_by_ids(engine: AsyncEngine, org_id: int, ids: Iterable[int]) -> dict[int, Endpoint]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(ENDPOINT).where(ENDPOINT.c.org_id == org_id, ENDPOINT.c.id.in_(wanted)))
        ).all()
    return {int(r.id): _endpoint(r) for r in rows}


async def endpoints_of(engine: AsyncEngine, org_id: int) -> list[Endpoint]:
    """The organization's endpoints, oldest first."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(select(ENDPOINT).where(ENDPOINT.c.org_id == org_id).order_by(ENDPOINT.c.id))
        ).all()
    return [_endpoint(r) for r in rows]


# -- the outbox ----------------------------------------------------------------------------


async def enqueue(
    conn: AsyncConnection,
    org_id: int,
    event_type: str,
    event_key: str,
    payload: Mapping[str, Any],
    *,
    at: float,
    endpoint_ids: Sequence[int] | None = None,
) -> list[int]:
    """One outbox row per enabled endpoint of the organization subscribed to `event_type`
    (or, with `endpoint_ids`, per one of those, whatever they subscribe to), in the
    caller's transaction. A key already enqueued for an endpoint is left alone, so
    re-running a committed transition adds nothing. Returns the new rows' ids."""
    where = [ENDPOINT.c.org_id == org_id, ENDPOINT.c.enabled.is_(True)]
    if endpoint_ids is not None:
        where.append(ENDPOINT.c.id.in_(list(endpoint_ids)))
    rows = (await conn.execute(select(ENDPOINT.c.id, ENDPOINT.c.event_types).where(*where))).all()
    targets = [int(r.id) for r in rows if endpoint_ids is not None or event_type in json.loads(r.event_types)]
    body = encode(payload)
    when = utc(at)
    created = []
    for endpoint_id in targets:
        values = {
            "endpoint_id": endpoint_id,
            "event_type": event_type,
            "event_key": event_key,
            "payload": body,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": when,
            "created_at": when,
        }
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(OUTBOX)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_key"])
            .returning(OUTBOX.c.id)
        )
        new_id = (await conn.execute(statement)).scalar()
        if new_id is not None:
            created.append(int(new_id))
    return created


async def claim(engine: AsyncEngine, *, now: float, lease: float, limit: int) -> list[Claimed]:
    """Due pending events of enabled endpoints that no live sender holds, leased to the
    caller until `now + lease`. PostgreSQL skips rows another sender is claiming (`FOR
    UPDATE SKIP LOCKED`); SQLite, which has one writer at a time, takes each row with an
    UPDATE that only succeeds while its lease is free."""
    at, until = utc(now), utc(now + lease)
    free = (OUTBOX.c.lease_until.is_(None)) | (OUTBOX.c.lease_until < at)
    due = (
        select(OUTBOX.c.id)
        .join(ENDPOINT, ENDPOINT.c.id == OUTBOX.c.endpoint_id)
        .where(OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= at, free, ENDPOINT.c.enabled.is_(True))
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
    )
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            ids = [
                int(i) for i in (await conn.scalars(due.with_for_update(of=OUTBOX, skip_locked=True))).all()
            ]
            if ids:
                await conn.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(lease_until=until))
        else:
            ids = []
            for candidate in (await conn.scalars(due)).all():
                taken = await conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == candidate, OUTBOX.c.status == PENDING, free)
                    .values(lease_until=until)
                )
                if taken.rowcount:
                    ids.append(int(candidate))
        if not ids:
            return []
        rows = (
            await conn.execute(
                select(
                    OUTBOX.c.id,
                    OUTBOX.c.event_type,
                    OUTBOX.c.payload,
                    OUTBOX.c.attempts,
                    OUTBOX.c.created_at,
                    ENDPOINT.c.url,
                    ENDPOINT.c.secret,
                )
                .join(ENDPOINT, ENDPOINT.c.id == OUTBOX.c.endpoint_id)
                .where(OUTBOX.c.id.in_(ids))
                .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            )
        ).all()
    return [
        Claimed(int(r.id), r.event_type, r.payload, int(r.attempts), _aware(r.created_at), r.url, r.secret)
        for r in rows
    ]


async def record_attempt(
    engine: AsyncEngine, attempt: Attempt, *, delivered: bool, next_attempt: float | None
) -> None:
    """Log one attempt and move its event on: delivered, retried at `next_attempt`, or
    dead (not delivered, no next attempt). The lease is released in the same commit."""
    if delivered:
        values: dict[str, Any] = {"status": DELIVERED, "delivered_at": attempt.at}
    elif next_attempt is None:
        values = {"status": DEAD}
    else:
        values = {"next_attempt_at": utc(next_attempt)}
    async with engine.begin() as conn:
        await conn.execute(
            DELIVERY.insert().values(
                outbox_id=attempt.outbox_id,
                attempt=attempt.attempt,
                at=attempt.at,
                status_code=attempt.status_code,
                error=None if attempt.error is None else attempt.error[:512],
                response=attempt.response,
                duration_ms=attempt.duration_ms,
            )
        )
        await conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == attempt.outbox_id)
            .values(attempts=attempt.attempt, lease_until=None, **values)
        )


# -- reads for the API ---------------------------------------------------------------------


async def events_page(
    engine: AsyncEngine, endpoint_id: int, offset: int, limit: int
) -> tuple[list[OutboxEvent], int]:
    """A page of an endpoint's events, newest first, with the last attempt's outcome,
    and how many there are."""
    last = (
        select(DELIVERY.c.outbox_id, func.max(DELIVERY.c.attempt).label("attempt"))
        .group_by(DELIVERY.c.outbox_id)
        .subquery()
    )
    latest = DELIVERY.alias("latest")
    async with engine.connect() as conn:
        total = int(
            await conn.scalar(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.endpoint_id == endpoint_id)
            )
            or 0
        )
        rows = (
            await conn.execute(
                select(OUTBOX, latest.c.status_code, latest.c.error)
                .outerjoin(last, last.c.outbox_id == OUTBOX.c.id)
                .outerjoin(latest, (latest.c.outbox_id == OUTBOX.c.id) & (latest.c.attempt == last.c.attempt))
                .where(OUTBOX.c.endpoint_id == endpoint_id)
                .order_by(OUTBOX.c.id.desc())
                .offset(offset)
                .limit(limit)
            )
        ).all()
    events = [
        OutboxEvent(
            id=int(r.id),
            endpoint_id=int(r.endpoint_id),
            event_type=r.event_type,
            event_key=r.event_key,
            payload=r.payload,
            status=r.status,
            attempts=int(r.attempts),
            next_attempt_at=_aware(r.next_attempt_at),
            created_at=_aware(r.created_at),
            delivered_at=None if r.delivered_at is None else _aware(r.delivered_at),
            last_status_code=r.status_code,
            last_error=r.error,
        )
        for r in rows
    ]
    return events, total


async def attempts_of(engine: AsyncEngine, outbox_ids: Sequence[int]) -> dict[int, list[Attempt]]:
    """Every logged attempt of each event, first attempt first, in one statement."""
    found: dict[int, list[Attempt]] = {i: [] for i in outbox_ids}
    if not outbox_ids:
        return found
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(DELIVERY)
                .where(DELIVERY.c.outbox_id.in_(sorted(set(outbox_ids))))
                .order_by(DELIVERY.c.outbox_id, DELIVERY.c.attempt, DELIVERY.c.id)
            )
        ).all()
    for r in rows:
        found[int(r.outbox_id)].append(
            Attempt(
                int(r.outbox_id),
                int(r.attempt),
                _aware(r.at),
                r.status_code,
                r.error,
                r.response,
                float(r.duration_ms),
            )
        )
    return found
