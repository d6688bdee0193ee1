"""Health gates (issue 10 section 2): per project and environment, the levels a release's
numbers must reach over a window. One row per gate; the store below reads them in
batches (every gate of a page of projects is one statement) on the AsyncEngine, as
`storage/persisted_queries.py` does.

Levels are percentages 0..100; a level that is None is not checked. Minimum volumes are
counts (0: no minimum). The decision itself is `resolvers/gates.py`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Float, Table, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from storage import changes


class HealthGateRow(SQLModel, table=True):
    __tablename__ = "health_gate"
    # One gate per project and environment: `env_key` is "" for the all-environments gate
    # and "=" + name otherwise (NULLs are distinct in unique indexes, as in release_env).
    __table_args__ = (UniqueConstraint("project_id", "env_key", name="uq_health_gate_project_env"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    project_id: int = Field(foreign_key="project.id")
    #: None: every environment.
    environment: str | None = Field(default=None, max_length=256)
    env_key: str = Field(max_length=257)
    #: A sessions-query dimension (`os.name`, ...) and its value; both None: no filter.
    dimension: str | None = Field(default=None, max_length=32)
    dimension_value: str | None = Field(default=None, max_length=256)
    #: A period name of API v2 (`LAST_24_HOURS`).
    time_window: str = Field(max_length=32)
    crash_free_sessions_target: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    crash_free_sessions_critical: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    crash_free_users_target: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    crash_free_users_critical: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    adoption_target: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    adoption_critical: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    min_sessions: int = Field(default=0, sa_type=BigInteger)
    min_users: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime
    updated_at: datetime


HEALTH_GATE: Table = HealthGateRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class GateRule:
    """What a gate checks (everything but its identity and timestamps)."""

    environment: str | None = None
    dimension: str | None = None
    dimension_value: str | None = None
    time_window: str = "LAST_24_HOURS"
    crash_free_sessions_target: float | None = None
    crash_free_sessions_critical: float | None = None
    crash_free_users_target: float | None = None
    crash_free_users_critical: float | None = None
    adoption_target: float | None = None
    adoption_critical: float | None = None
    min_sessions: int = 0
    min_users: int = 0


@dataclass(frozen=True, slots=True)
class Gate:
    id: int
    org_id: int
    project_id: int
    rule: GateRule
    created_at: datetime
    updated_at: datetime


class GateExists(ValueError):
    """The project has a gate for that environment already."""


def env_key(environment: str | None) -> str:
    return "" if environment is None else "=" + environment


def _values(rule: GateRule) -> dict[str, object]:
    return {**asdict(rule), "env_key": env_key(rule.environment)}


async def create(engine: AsyncEngine, org_id: int, project_id: int, rule: GateRule) -> Gate:
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                HEALTH_GATE.insert().values(
                    org_id=org_id, project_id=project_id, created_at=now, updated_at=now, **_values(rule)
                )
            )
    except IntegrityError:
        raise GateExists(_taken(rule.environment)) from None
    gate_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return Gate(gate_id, org_id, project_id, rule, now, now)


async def update(engine: AsyncEngine, org_id: int, gate_id: int, rule: GateRule) -> Gate | None:
    """Replace every rule of a gate; None when the organization has no such gate."""
    t = HEALTH_GATE
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                t.update()
                .where(t.c.id == gate_id, t.c.org_id == org_id)
                .values(updated_at=datetime.now(UTC), **_values(rule))
            )
    except IntegrityError:
        raise GateExists(_taken(rule.environment)) from None
    if not result.rowcount:
        return None
    return (await by_ids(engine, org_id, [gate_id])).get(gate_id)


async def remove(engine: AsyncEngine, org_id: int, gate_id: int) -> bool:
    """Delete a gate with the verdicts the change detector recorded for it (one
    transaction; a later gate must not inherit them should its id be reused)."""
    t = HEALTH_GATE
    async with engine.begin() as conn:
        found = (await conn.execute(select(t.c.id).where(t.c.id == gate_id, t.c.org_id == org_id))).first()
        if found is None:
            return False
        await changes.forget_gate(conn, gate_id)
        await conn.execute(delete(t).where(t.c.id == gate_id))
    return True


async def by_ids(engine: AsyncEngine, org_id: int | None, ids: Iterable[int]) -> dict[int, Gate]:
    """The organization's gates among `ids` (any organization's for None: the CLI), in
    one statement."""
    t = HEALTH_GATE
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    where = [t.c.id.in_(wanted)] if org_id is None else [t.c.org_id == org_id, t.c.id.in_(wanted)]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).where(*where))).all()
    return {int(r.id): _gate(r) for r in rows}


async def every(engine: AsyncEngine) -> list[Gate]:
    """Every gate of every organization, by project and environment (the CLI's list)."""
    t = HEALTH_GATE
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).order_by(t.c.project_id, t.c.env_key, t.c.id))).all()
    return [_gate(r) for r in rows]


async def by_projects(engine: AsyncEngine, org_id: int, project_ids: Sequence[int]) -> dict[int, list[Gate]]:
    """Every gate of each project (all-environments gate first, then by environment), in
    one statement."""
    t = HEALTH_GATE
    found: dict[int, list[Gate]] = {p: [] for p in project_ids}
    if not project_ids:
        return found
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t)
                .where(t.c.org_id == org_id, t.c.project_id.in_(sorted(set(project_ids))))
                .order_by(t.c.project_id, t.c.env_key, t.c.id)
            )
        ).all()
    for r in rows:
        found[int(r.project_id)].append(_gate(r))
    return found


def matching(gates: Sequence[Gate], environment: str | None) -> Gate | None:
    """The gate that applies to `environment`: the one naming it, else the project's
    all-environments gate; None when neither exists."""
    named = next((g for g in gates if g.rule.environment == environment), None)
    if named is not None:
        return named
    return next((g for g in gates if g.rule.environment is None), None)


def _taken(environment: str | None) -> str:
    where = "every environment" if environment is None else f"environment {environment!r}"
    return f"The project already has a gate for {where}."


def _gate(r: object) -> Gate:
    row = r._mapping  # type: ignore[attr-defined]
    rule = GateRule(**{name: row[name] for name in GateRule.__dataclass_fields__})
    return Gate(
        int(row["id"]),
        int(row["org_id"]),
        int(row["project_id"]),
        rule,
        _aware(row["created_at"]),
        _aware(row["updated_at"]),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
