"""The alert transition log and the late-data marks (docs/alerts.md "Late data").

`alert_transition` holds every transition the evaluator committed, live or found late,
written in the transition's own transaction (`storage.alerts.record`). It is the history
a late-data replay starts from (the level a release had before a minute) and checks
against (a transition already recorded is not recorded again).

`alert_dirty` holds the (project, hour) pairs ingest marked late (`storage.sql.late`);
the evaluator deletes a mark once every rule of its project was replayed, and only if no
commit marked the hour again meanwhile (`marks` unchanged)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    Table,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from resolvers.alerts import Level


class AlertTransitionRow(SQLModel, table=True):
    __tablename__ = "alert_transition"
    __table_args__ = (
        # One transition per (rule, release, minute, new level): a replay finds it recorded.
        UniqueConstraint("rule_id", "release", "at", "after_level", name="uq_alert_transition"),
        Index("ix_alert_transition_rule_id", "rule_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alert_rule.id")
    release: str = Field(max_length=256)
    #: The minute (unix seconds) the level changed: for a late one, the minute it truly did.
    at: int = Field(sa_type=BigInteger)
    before_level: str = Field(max_length=32)
    after_level: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    #: Found by re-evaluating past minutes after late data, not when the minute was new.
    late: bool = False


class AlertDirtyRow(SQLModel, table=True):
    __tablename__ = "alert_dirty"

    project_id: int = Field(primary_key=True)
    #: The hour (unix seconds) late data arrived for.
    hour: int = Field(sa_column=Column(BigInteger, primary_key=True))
    #: How many commits marked it (so that a mark made during a replay survives it).
    marks: int = Field(default=1, sa_column=Column(Integer, nullable=False))


ALERT_TRANSITION: Table = AlertTransitionRow.__table__  # type: ignore[attr-defined]
ALERT_DIRTY: Table = AlertDirtyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Mark:
    project_id: int
    hour: int
    marks: int


@dataclass(frozen=True, slots=True)
class History:
    """A rule's recorded history around a replay of the minutes `[first, ...]`."""

    #: Each release's level before `first` (the last transition before it).
    before: dict[str, Level]
    #: (release, minute, new level) of every transition recorded from `first` on.
    recorded: set[tuple[str, int, Level]]


async def marks(engine: AsyncEngine, limit: int = 10_000) -> list[Mark]:
    """The late-data marks, oldest hour first (at most `limit`; the rest wait a pass)."""
    d = ALERT_DIRTY
    async with engine.connect() as conn:
        rows = (await conn.execute(select(d).order_by(d.c.hour, d.c.project_id).limit(limit))).all()
    return [Mark(int(r.project_id), int(r.hour), int(r.marks)) for r in rows]


async def clear(engine: AsyncEngine, done: Iterable[Mark]) -> None:
    """Delete the marks handled, each only if it was not marked again since it was read."""
    d = ALERT_DIRTY
    async with engine.begin() as conn:
        for m in done:
            await conn.execute(
                delete(d).where(d.c.project_id == m.project_id, d.c.hour == m.hour, d.c.marks == m.marks)
            )


async def history(engine: AsyncEngine, rule_id: int, first: int) -> History:
    """Two statements: the last transition before `first` of each release, and every
    transition from `first` on."""
    t = ALERT_TRANSITION
    # The latest by minute (a late transition can be written after a later live one);
    # several at that minute: the last written.
    last = (
        select(t.c.release, func.max(t.c.at).label("at"))
        .where(t.c.rule_id == rule_id, t.c.at < first)
        .group_by(t.c.release)
        .subquery()
    )
    latest = (
        select(t.c.release, t.c.after_level)
        .join(last, (t.c.release == last.c.release) & (t.c.at == last.c.at))
        .where(t.c.rule_id == rule_id)
        .order_by(t.c.id)
    )
    async with engine.connect() as conn:
        before = (await conn.execute(latest)).all()
        after = (
            await conn.execute(
                select(t.c.release, t.c.at, t.c.after_level).where(t.c.rule_id == rule_id, t.c.at >= first)
            )
        ).all()
    return History(
        {str(r.release): Level(r.after_level) for r in before},
        {(str(r.release), int(r.at), Level(r.after_level)) for r in after},
    )


async def log(
    conn: AsyncConnection,
    *,
    rule_id: int,
    release: str,
    at: int,
    before: Level,
    after: Level,
    kind: str,
    value: float | None,
    late: bool,
) -> None:
    """Record one transition (inside its transaction)."""
    await conn.execute(
        ALERT_TRANSITION.insert().values(
            rule_id=rule_id,
            release=release,
            at=at,
            before_level=before.value,
            after_level=after.value,
            kind=kind,
            value=value,
            late=late,
        )
    )
