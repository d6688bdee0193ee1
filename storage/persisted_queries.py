"""The allowlist of persisted operations (`relhealth persisted-queries`): one row per
registered document, keyed by the SHA-256 of its exact text (gql/operation_files.py
says which text), read by the GraphQL endpoint in allowlist mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Table, Text, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel


class PersistedQuery(SQLModel, table=True):
    __tablename__ = "persisted_query"

    sha256: str = Field(primary_key=True, max_length=64)
    #: The operation's name (None for an anonymous operation).
    operation_name: str | None = Field(default=None, max_length=256, index=True)
    document: str = Field(sa_column=Column(Text, nullable=False))
    #: The file it was registered from, for `list`.
    source: str = Field(max_length=1024)
    created_at: datetime


PERSISTED_QUERY: Table = PersistedQuery.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Registered:
    sha256: str
    operation_name: str | None
    document: str
    source: str
    created_at: datetime


async def add(engine: AsyncEngine, entries: Iterable[tuple[str, str | None, str, str]]) -> int:
    """Register (sha256, operation name, document, source) rows; a hash already there is
    left as it is (same hash, same text). Returns how many were new."""
    t = PERSISTED_QUERY
    now = datetime.now(UTC)
    added = 0
    async with engine.begin() as conn:
        for digest, name, document, source in entries:
            exists = await conn.scalar(select(t.c.sha256).where(t.c.sha256 == digest))
            if exists is None:
                await conn.execute(
                    t.insert().values(
                        sha256=digest, operation_name=name, document=document, source=source, created_at=now
                    )
                )
                added += 1
    return added


async def remove(engine: AsyncEngine, keys: Sequence[str]) -> int:
    """Remove by hash (or a unique prefix of at least 8 digits) or operation name."""
    t = PERSISTED_QUERY
    conditions = [t.c.operation_name == k for k in keys]
    conditions += [t.c.sha256.startswith(k) for k in keys if len(k) >= 8]
    if not conditions:
        return 0
    async with engine.begin() as conn:
        result = await conn.execute(delete(t).where(or_(*conditions)))
    return int(result.rowcount or 0)


async def load(engine: AsyncEngine) -> list[Registered]:
    t = PERSISTED_QUERY
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).order_by(t.c.operation_name, t.c.sha256))).all()
    return [Registered(r.sha256, r.operation_name, r.document, r.source, _aware(r.created_at)) for r in rows]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
