"""The last gate verdict of each (gate, release) and the last adoption stage of each
(project, environment, release) the change detector saw (`jobs/changes.py`), and the
one transaction that records a change with its health event.

A change is recorded only if the state row is still what the detector read
(compare-and-set): of two evaluators that both saw the change, one commits it and its
event, the other changes nothing. The event key is unique as well (`storage.events`), so
even a state set back by hand cannot publish one change twice."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, Table, Text, UniqueConstraint, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from storage import events


class GateVerdictStateRow(SQLModel, table=True):
    __tablename__ = "gate_verdict_state"
    __table_args__ = (UniqueConstraint("gate_id", "release", name="uq_gate_verdict_state_gate_release"),)

    id: int | None = Field(default=None, primary_key=True)
    gate_id: int = Field(sa_column=Column(Integer, ForeignKey("health_gate.id"), nullable=False))
    release: str = Field(max_length=256)
    #: `PASS`, `WARN`, `FAIL` or `INSUFFICIENT_DATA` (GraphQL's `GateOutcome`).
    verdict: str = Field(max_length=32)
    #: The minute (unix seconds) the verdict was first seen.
    since: int = Field(sa_type=BigInteger)
    #: The numbers it was decided on (JSON, as in the event's payload).
    numbers: str = Field(sa_column=Column(Text, nullable=False))


class AdoptionStageStateRow(SQLModel, table=True):
    __tablename__ = "adoption_stage_state"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "environment", "release", name="uq_adoption_stage_state_project_env_release"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(sa_column=Column(Integer, ForeignKey("project.id"), nullable=False))
    environment: str = Field(max_length=256)
    release: str = Field(max_length=256)
    #: `ADOPTED`, `LOW_ADOPTION` or `REPLACED` (GraphQL's `AdoptionStage`).
    stage: str = Field(max_length=32)
    since: int = Field(sa_type=BigInteger)


GATE_VERDICT_STATE: Table = GateVerdictStateRow.__table__  # type: ignore[attr-defined]
ADOPTION_STAGE_STATE: Table = AdoptionStageStateRow.__table__  # type: ignore[attr-defined]

#: (gate id, release) and (project id, environment, release).
GateKey = tuple[int, str]
StageKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class State:
    """A recorded verdict or stage and the minute it was first seen."""

    value: str
    since: int


@dataclass(frozen=True, slots=True)
class Event:
    """What `record_*` publishes with the state change."""

    org_id: int
    project_id: int
    event_type: str
    event_key: str
    payload: Mapping[str, Any]
    at: int


async def gate_states(engine: AsyncEngine, gate_ids: Iterable[int]) -> dict[GateKey, State]:
    """The recorded verdicts of the gates, in one statement."""
    t = GATE_VERDICT_STATE
    wanted = sorted(set(gate_ids))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).where(t.c.gate_id.in_(wanted)))).all()
    return {(int(r.gate_id), str(r.release)): State(str(r.verdict), int(r.since)) for r in rows}


async def stage_states(engine: AsyncEngine, project_ids: Iterable[int]) -> dict[StageKey, State]:
    """The recorded stages of the projects, in one statement."""
    t = ADOPTION_STAGE_STATE
    wanted = sorted(set(project_ids))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).where(t.c.project_id.in_(wanted)))).all()
    return {
        (int(r.project_id), str(r.environment), str(r.release)): State(str(r.stage), int(r.since))
        for r in rows
    }


async def record_gate(
    engine: AsyncEngine,
    key: GateKey,
    previous: State | None,
    verdict: str,
    numbers: Mapping[str, Any],
    event: Event,
) -> bool:
    """Commit a new verdict and its event in one transaction; False (nothing changed) when
    the recorded verdict is no longer `previous`."""
    t = GATE_VERDICT_STATE
    gate_id, release = key
    async with engine.begin() as conn:
        if previous is None:
            won = await _insert(
                conn,
                t,
                ["gate_id", "release"],
                gate_id=gate_id,
                release=release,
                verdict=verdict,
                since=event.at,
                numbers=json.dumps(numbers),
            )
        else:
            changed = await conn.execute(
                t.update()
                .where(
                    t.c.gate_id == gate_id,
                    t.c.release == release,
                    t.c.verdict == previous.value,
                    t.c.since == previous.since,
                )
                .values(verdict=verdict, since=event.at, numbers=json.dumps(numbers))
            )
            won = changed.rowcount == 1
        if not won:
            return False
        await _publish(conn, event)
    return True


async def record_stage(
    engine: AsyncEngine, key: StageKey, previous: State | None, stage: str, event: Event
) -> bool:
    """Commit a new stage and its event in one transaction; False (nothing changed) when
    the recorded stage is no longer `previous`."""
    t = ADOPTION_STAGE_STATE
    project_id, environment, release = key
    where = (t.c.project_id == project_id, t.c.environment == environment, t.c.release == release)
    async with engine.begin() as conn:
        if previous is None:
            won = await _insert(
                conn,
                t,
                ["project_id", "environment", "release"],
                project_id=project_id,
                environment=environment,
                release=release,
                stage=stage,
                since=event.at,
            )
        else:
            changed = await conn.execute(
                t.update()
                .where(*where, t.c.stage == previous.value, t.c.since == previous.since)
                .values(stage=stage, since=event.at)
            )
            won = changed.rowcount == 1
        if not won:
            return False
        await _publish(conn, event)
    return True


async def forget_gate(conn: AsyncConnection, gate_id: int) -> None:
    """Drop a gate's verdicts (in the transaction that removes the gate)."""
    await conn.execute(delete(GATE_VERDICT_STATE).where(GATE_VERDICT_STATE.c.gate_id == gate_id))


async def _insert(conn: AsyncConnection, t: Table, unique: list[str], **values: Any) -> bool:
    """Insert a first state unless another evaluator inserted one first: the unique
    constraint decides, on both dialects, without an error that would abort a PostgreSQL
    transaction."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(t).values(**values).on_conflict_do_nothing(index_elements=unique).returning(t.c.id)
    return (await conn.execute(statement)).scalar() is not None


async def _publish(conn: AsyncConnection, e: Event) -> None:
    await events.publish(
        conn,
        org_id=e.org_id,
        project_id=e.project_id,
        event_type=e.event_type,
        event_key=e.event_key,
        payload=e.payload,
        at=float(e.at),
    )
