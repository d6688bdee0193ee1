"""Alert rules, their state per release and their incidents (issue 10 section 3,
docs/alerts.md). Rules are managed like health gates (`storage/gates.py`); the state and
incidents are written only by the evaluator (`jobs/alerts.py`), one transaction per
transition (`record`).

Thresholds are percentages 0..100; instants the evaluator works in (`evaluated_through`,
`changed_at`) are unix seconds on the minute grid; incident times are datetimes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Table,
    UniqueConstraint,
    delete,
    false,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from resolvers.alerts import Direction, Level, Thresholds, TransitionKind
from storage.alert_history import ALERT_TRANSITION, log


class AlertRuleRow(SQLModel, table=True):
    __tablename__ = "alert_rule"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=256)
    #: None: every environment.
    environment: str | None = Field(default=None, max_length=256)
    #: `resolvers.alerts.Selector` value; `selector_argument` is the version or the hours.
    selector: str = Field(max_length=32)
    selector_argument: str | None = Field(default=None, max_length=256)
    metric: str = Field(max_length=32)
    direction: str = Field(max_length=16)
    #: A period name of API v2 (`LAST_24_HOURS`).
    time_window: str = Field(max_length=32)
    warning: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    critical: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    warning_resolve: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    critical_resolve: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    min_sessions: int = Field(default=0, sa_type=BigInteger)
    min_users: int = Field(default=0, sa_type=BigInteger)
    enabled: bool = True
    #: The last minute (unix seconds) a pass evaluated; None: never evaluated.
    evaluated_through: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime
    updated_at: datetime
    # Added by migration 0014 (columns in the migrated order).
    #: A client dimension of the sessions query (`os.name`, ...) and its value: only those
    #: sessions are counted. Both None: every session (as health gates).
    dimension: str | None = Field(default=None, max_length=32)
    dimension_value: str | None = Field(default=None, max_length=256)
    #: ADOPTION_STAGE rules: the stage watched (`adopted`, ...) and the level while in it.
    stage: str | None = Field(default=None, max_length=32)
    stage_level: str | None = Field(default=None, max_length=32)


class AlertStateRow(SQLModel, table=True):
    __tablename__ = "alert_state"
    __table_args__ = (UniqueConstraint("rule_id", "release", name="uq_alert_state_rule_release"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alert_rule.id")
    release: str = Field(max_length=256)
    level: str = Field(max_length=32)
    value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    #: The minute of the last transition, which is also the last minute committed for
    #: this release: a re-run of a minute at or before it adds nothing.
    evaluated_through: int = Field(sa_type=BigInteger)


class AlertIncidentRow(SQLModel, table=True):
    __tablename__ = "alert_incident"
    __table_args__ = (Index("ix_alert_incident_rule_id", "rule_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="alert_rule.id")
    release: str = Field(max_length=256)
    #: The highest level reached (an incident escalates, it never de-escalates).
    level: str = Field(max_length=32)
    opened_at: datetime
    open_value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    escalated_at: datetime | None = None
    escalate_value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    closed_at: datetime | None = None
    close_value: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    #: Opened, escalated or closed by a late-data re-evaluation (migration 0014).
    late: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


ALERT_RULE: Table = AlertRuleRow.__table__  # type: ignore[attr-defined]
ALERT_STATE: Table = AlertStateRow.__table__  # type: ignore[attr-defined]
ALERT_INCIDENT: Table = AlertIncidentRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AlertRuleSpec:
    """What a rule checks (everything but its identity, timestamps and progress)."""

    name: str
    environment: str | None = None
    selector: str = "latest"
    selector_argument: str | None = None
    metric: str = "crash_free_sessions"
    direction: str = "below"
    time_window: str = "LAST_24_HOURS"
    warning: float | None = None
    critical: float | None = None
    warning_resolve: float | None = None
    critical_resolve: float | None = None
    min_sessions: int = 0
    min_users: int = 0
    enabled: bool = True
    dimension: str | None = None
    dimension_value: str | None = None
    stage: str | None = None
    stage_level: str | None = None

    def thresholds(self) -> Thresholds:
        return Thresholds(
            direction=Direction(self.direction),
            warning=self.warning,
            critical=self.critical,
            warning_resolve=self.warning_resolve,
            critical_resolve=self.critical_resolve,
            min_sessions=self.min_sessions,
            min_users=self.min_users,
        )


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: int
    org_id: int
    project_id: int
    spec: AlertRuleSpec
    evaluated_through: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class State:
    level: Level
    value: float | None
    evaluated_through: int


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    rule_id: int
    release: str
    level: Level
    opened_at: datetime
    open_value: float | None
    escalated_at: datetime | None
    escalate_value: float | None
    closed_at: datetime | None
    close_value: float | None
    late: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    """One (rule, release) level change at the minute `at` (unix seconds); `late`: found
    by re-evaluating that minute after late data came in for it."""

    rule: AlertRule
    release: str
    before: Level
    after: Level
    kind: TransitionKind
    at: int
    value: float | None
    late: bool = False


#: Called inside the transition's transaction (webhook outbox rows come here later).
TransitionHook = Callable[[AsyncConnection, Transition], Awaitable[None]]


async def create(engine: AsyncEngine, org_id: int, project_id: int, spec: AlertRuleSpec) -> AlertRule:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            ALERT_RULE.insert().values(
                org_id=org_id, project_id=project_id, created_at=now, updated_at=now, **asdict(spec)
            )
        )
    rule_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return AlertRule(rule_id, org_id, project_id, spec, None, now, now)


async def update(engine: AsyncEngine, org_id: int, rule_id: int, spec: AlertRuleSpec) -> AlertRule | None:
    """Replace every setting of a rule; None when the organization has no such rule. Its
    state and incidents stay (the next pass judges the new thresholds from them)."""
    t = ALERT_RULE
    async with engine.begin() as conn:
        result = await conn.execute(
            t.update()
            .where(t.c.id == rule_id, t.c.org_id == org_id)
            .values(updated_at=datetime.now(UTC), **asdict(spec))
        )
    if not result.rowcount:
        return None
    return (await by_ids(engine, org_id, [rule_id])).get(rule_id)


async def remove(engine: AsyncEngine, org_id: int | None, rule_id: int) -> bool:
    """Delete a rule with its state and incidents (one transaction)."""
    t = ALERT_RULE
    where = [t.c.id == rule_id] if org_id is None else [t.c.id == rule_id, t.c.org_id == org_id]
    async with engine.begin() as conn:
        found = (await conn.execute(select(t.c.id).where(*where))).first()
        if found is None:
            return False
        await conn.execute(delete(ALERT_INCIDENT).where(ALERT_INCIDENT.c.rule_id == rule_id))
        await conn.execute(delete(ALERT_TRANSITION).where(ALERT_TRANSITION.c.rule_id == rule_id))
        await conn.execute(delete(ALERT_STATE).where(ALERT_STATE.c.rule_id == rule_id))
        await conn.execute(delete(t).where(t.c.id == rule_id))
    return True


async def by_ids(engine: AsyncEngine, org_id: int, ids: Iterable[int]) -> dict[int, AlertRule]:
    """The organization's rules among `ids`, in one statement."""
    t = ALERT_RULE
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t).where(t.c.org_id == org_id, t.c.id.in_(wanted)))).all()
    return {int(r.id): _rule(r) for r in rows}


async def by_projects(
    engine: AsyncEngine, org_id: int, project_ids: Sequence[int]
) -> dict[int, list[AlertRule]]:
    """Every rule of each project, oldest first, in one statement."""
    t = ALERT_RULE
    found: dict[int, list[AlertRule]] = {p: [] for p in project_ids}
    if not project_ids:
        return found
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t)
                .where(t.c.org_id == org_id, t.c.project_id.in_(sorted(set(project_ids))))
                .order_by(t.c.project_id, t.c.id)
            )
        ).all()
    for r in rows:
        found[int(r.project_id)].append(_rule(r))
    return found


async def every(engine: AsyncEngine, *, enabled_only: bool = False) -> list[AlertRule]:
    """Every rule of every organization, by id (the evaluator's and the CLI's list)."""
    t = ALERT_RULE
    query = select(t).order_by(t.c.id)
    if enabled_only:
        query = query.where(t.c.enabled.is_(True))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [_rule(r) for r in rows]


async def states(engine: AsyncEngine, rule_id: int) -> dict[str, State]:
    return (await states_of(engine, [rule_id]))[rule_id]


async def states_of(engine: AsyncEngine, rule_ids: Sequence[int]) -> dict[int, dict[str, State]]:
    """The state of each release of each rule, by release, in one statement."""
    t = ALERT_STATE
    found: dict[int, dict[str, State]] = {r: {} for r in rule_ids}
    if not rule_ids:
        return found
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t).where(t.c.rule_id.in_(sorted(set(rule_ids)))).order_by(t.c.rule_id, t.c.release)
            )
        ).all()
    for r in rows:
        found[int(r.rule_id)][str(r.release)] = State(Level(r.level), r.value, int(r.evaluated_through))
    return found


async def incidents(engine: AsyncEngine, rule_ids: Sequence[int]) -> dict[int, list[Incident]]:
    """Every incident of each rule, newest first, in one statement."""
    t = ALERT_INCIDENT
    found: dict[int, list[Incident]] = {r: [] for r in rule_ids}
    if not rule_ids:
        return found
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t).where(t.c.rule_id.in_(sorted(set(rule_ids)))).order_by(t.c.rule_id, t.c.id.desc())
            )
        ).all()
    for r in rows:
        found[int(r.rule_id)].append(_incident(r))
    return found


async def advance(engine: AsyncEngine, rule_id: int, through: int) -> None:
    """Record that a pass evaluated the rule's minutes up to `through` (never backwards)."""
    t = ALERT_RULE
    async with engine.begin() as conn:
        await conn.execute(
            t.update()
            .where(t.c.id == rule_id, (t.c.evaluated_through.is_(None)) | (t.c.evaluated_through < through))
            .values(evaluated_through=through)
        )


async def record(
    engine: AsyncEngine, transition: Transition, previous: State | None, hook: TransitionHook
) -> bool:
    """Commit one transition in one transaction: the state (and its `evaluated_through`),
    the incident opened, escalated or closed with the value, and `hook`. The state row is
    changed only if it is still `previous` (compare-and-set), so a transition somebody
    else committed first is not recorded twice: False then, and nothing changed."""
    try:
        await _record(engine, transition, previous, hook)
    except _Lost:
        return False
    return True


class _Lost(Exception):
    """The state changed under a transition: roll its transaction back."""


async def _record(engine: AsyncEngine, tr: Transition, previous: State | None, hook: TransitionHook) -> None:
    s = ALERT_STATE
    async with engine.begin() as conn:
        if previous is None:
            found = (
                await conn.execute(select(s.c.id).where(s.c.rule_id == tr.rule.id, s.c.release == tr.release))
            ).first()
            if found is not None:
                raise _Lost
            await conn.execute(
                s.insert().values(
                    rule_id=tr.rule.id,
                    release=tr.release,
                    level=tr.after.value,
                    value=tr.value,
                    evaluated_through=tr.at,
                )
            )
        else:
            changed = await conn.execute(
                s.update()
                .where(
                    s.c.rule_id == tr.rule.id,
                    s.c.release == tr.release,
                    s.c.level == previous.level.value,
                    s.c.evaluated_through == previous.evaluated_through,
                )
                .values(level=tr.after.value, value=tr.value, evaluated_through=tr.at)
            )
            if changed.rowcount != 1:
                raise _Lost
        await _changed(conn, tr, hook)


async def _changed(conn: AsyncConnection, tr: Transition, hook: TransitionHook) -> None:
    """What every transition writes besides the state: its log row, its incident, `hook`."""
    await log(
        conn,
        rule_id=tr.rule.id,
        release=tr.release,
        at=tr.at,
        before=tr.before,
        after=tr.after,
        kind=tr.kind.value,
        value=tr.value,
        late=tr.late,
    )
    await _incident_change(conn, tr)
    await hook(conn, tr)


async def record_replay(
    engine: AsyncEngine,
    rule: AlertRule,
    release: str,
    found: Sequence[Transition],
    final: tuple[Level, float | None],
    previous: State | None,
    hook: TransitionHook,
) -> bool:
    """Commit what a late-data replay found for one (rule, release) in one transaction:
    each transition (late) with its log row, incident change and `hook`, and the state set
    to `final`, the level the replay ended at (compare-and-set on `previous`, as `record`).
    A process killed before the commit changed nothing; the replay is redone."""
    try:
        async with engine.begin() as conn:
            level, value = final
            s = ALERT_STATE
            last = max([t.at for t in found] + ([] if previous is None else [previous.evaluated_through]))
            if previous is None:
                taken = (
                    await conn.execute(select(s.c.id).where(s.c.rule_id == rule.id, s.c.release == release))
                ).first()
                if taken is not None:
                    raise _Lost
                await conn.execute(
                    s.insert().values(
                        rule_id=rule.id,
                        release=release,
                        level=level.value,
                        value=value,
                        evaluated_through=last,
                    )
                )
            elif previous.level is not level:
                changed = await conn.execute(
                    s.update()
                    .where(
                        s.c.rule_id == rule.id,
                        s.c.release == release,
                        s.c.level == previous.level.value,
                        s.c.evaluated_through == previous.evaluated_through,
                    )
                    .values(level=level.value, value=value, evaluated_through=last)
                )
                if changed.rowcount != 1:
                    raise _Lost
            for tr in sorted(found, key=lambda t: t.at):
                await _changed(conn, tr, hook)
    except _Lost:
        return False
    return True


async def _incident_change(conn: AsyncConnection, tr: Transition) -> None:
    i = ALERT_INCIDENT
    at = datetime.fromtimestamp(tr.at, UTC)
    if tr.kind is TransitionKind.OPEN:
        await conn.execute(
            i.insert().values(
                rule_id=tr.rule.id,
                release=tr.release,
                level=tr.after.value,
                opened_at=at,
                open_value=tr.value,
                late=tr.late,
            )
        )
        return
    is_open = (i.c.rule_id == tr.rule.id) & (i.c.release == tr.release) & i.c.closed_at.is_(None)
    if tr.late:
        await _late_incident_change(conn, tr, at)
        return
    if tr.kind is TransitionKind.ESCALATE:
        await conn.execute(
            i.update().where(is_open).values(level=tr.after.value, escalated_at=at, escalate_value=tr.value)
        )
    elif tr.kind is TransitionKind.RESOLVE:
        await conn.execute(i.update().where(is_open).values(closed_at=at, close_value=tr.value))


async def _late_incident_change(conn: AsyncConnection, tr: Transition, at: datetime) -> None:
    """A late escalation or resolution changes the incident that was open at its minute
    (the latest opened at or before it, not closed by then), which need not be the one
    open now; a resolution found earlier than the recorded one moves the close back."""
    i = ALERT_INCIDENT
    target = (
        await conn.execute(
            select(i.c.id)
            .where(
                i.c.rule_id == tr.rule.id,
                i.c.release == tr.release,
                i.c.opened_at <= at,
                i.c.closed_at.is_(None) | (i.c.closed_at > at),
            )
            .order_by(i.c.opened_at.desc(), i.c.id.desc())
            .limit(1)
        )
    ).first()
    if target is None:
        return
    this = i.c.id == target.id
    if tr.kind is TransitionKind.ESCALATE:
        await conn.execute(
            i.update()
            .where(this)
            .values(level=tr.after.value, escalated_at=at, escalate_value=tr.value, late=True)
        )
    elif tr.kind is TransitionKind.RESOLVE:
        await conn.execute(i.update().where(this).values(closed_at=at, close_value=tr.value, late=True))


def _rule(r: object) -> AlertRule:
    row = r._mapping  # type: ignore[attr-defined]
    spec = AlertRuleSpec(**{name: row[name] for name in AlertRuleSpec.__dataclass_fields__})
    through = row["evaluated_through"]
    return AlertRule(
        int(row["id"]),
        int(row["org_id"]),
        int(row["project_id"]),
        spec,
        None if through is None else int(through),
        _aware(row["created_at"]),
        _aware(row["updated_at"]),
    )


def _incident(r: object) -> Incident:
    row = r._mapping  # type: ignore[attr-defined]
    return Incident(
        id=int(row["id"]),
        rule_id=int(row["rule_id"]),
        release=str(row["release"]),
        level=Level(row["level"]),
        opened_at=_aware(row["opened_at"]),
        open_value=row["open_value"],
        escalated_at=None if row["escalated_at"] is None else _aware(row["escalated_at"]),
        escalate_value=row["escalate_value"],
        closed_at=None if row["closed_at"] is None else _aware(row["closed_at"]),
        close_value=row["close_value"],
        late=bool(row["late"]),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
