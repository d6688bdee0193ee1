"""The alert evaluator of a running server (issue 10 section 3, docs/alerts.md).

Every server process runs an `AlertTask`; every `interval` seconds it tries to become the
evaluator and skips the minute when another process is:

- PostgreSQL: `pg_try_advisory_lock` on a connection of its own, held for the whole pass
  (the lock belongs to the session: a killed process's lock goes with its connection);
- SQLite: `fcntl.flock(LOCK_EX | LOCK_NB)` on `<database file>.alerts.lock` (the kernel
  drops it with the process). An in-memory database has one process: no lock.

A pass evaluates, for every enabled rule, the minutes after its `evaluated_through` up to
now (at most `catchup` of them; older ones are skipped and logged), each at its own
instant, with the numbers of `ReleaseHealth` (`resolvers.health.release_overview`), so an
alert and the API never disagree. Each (rule, release) transition is one transaction
(`storage.alerts.record`); a minute already committed for a release is not evaluated
again, so a re-run adds nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gql.core.enums import Period
from jobs import alert_metrics, alert_replay
from jobs.changes import detect_changes
from jobs.periodic import PeriodicTask
from resolvers import alerts as rules
from resolvers.bounds import BOUNDS_EPOCH
from resolvers.filters import environment_filter
from resolvers.options import QueryOptions
from resolvers.timetext import format_iso
from resolvers.timewindow import widen
from storage import alerts, events
from storage.protocol import Store
from storage.types import HOUR, AggregateQuery, Quantity

log = logging.getLogger(__name__)

MINUTE = 60
#: First key of the evaluator's advisory lock ("rh" + 10); the second is 0.
LOCK_NAMESPACE = 0x7268000A

#: The summary periods of API v2's `Period` values, in seconds.
_UNITS = {"h": 3600, "d": 86400}


#: The event type of alert transitions.
ALERT_EVENT = events.ALERT_TRANSITION


async def on_transition(conn: AsyncConnection, transition: alerts.Transition) -> None:
    """Called inside each transition's transaction: one `alert.transition` event goes into
    the event log (and, through it, one webhook outbox row per subscribed endpoint) in the
    same commit as the state change, keyed by (rule, release, minute, level), so a
    re-evaluated minute never sends twice and a process killed before the commit sends
    nothing."""
    t = transition
    rule = t.rule
    await events.publish(
        conn,
        org_id=rule.org_id,
        project_id=rule.project_id,
        event_type=ALERT_EVENT,
        event_key=f"alert:{rule.id}:{t.release}:{t.at}:{t.after.name}",
        payload={
            "rule": {"id": rule.id, "name": rule.spec.name, "metric": rule.spec.metric},
            "projectId": rule.project_id,
            "environment": rule.spec.environment,
            "release": t.release,
            "from": t.before.name,
            "to": t.after.name,
            "kind": t.kind.value,
            "at": format_iso(t.at),
            "value": t.value,
            # Found by re-evaluating a past minute after late data (`at` is that minute).
            "late": t.late,
        },
        at=float(t.at),
    )


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did: None for `transitions` when another process was the evaluator."""

    transitions: list[alerts.Transition] | None
    skipped_minutes: int = 0


def period_seconds(period: str) -> int:
    """`24h` -> 86400 (the values of `gql.core.enums.Period`)."""
    return int(period[:-1]) * _UNITS[period[-1]]


class AlertTask(PeriodicTask):
    name = "relhealth-alerts"

    def __init__(
        self,
        engine: AsyncEngine,
        store: Store,
        options: QueryOptions,
        *,
        interval: float,
        now: Callable[[], float],
        catchup: int = 60,
        hook: alerts.TransitionHook = on_transition,
        late_minutes: int = 1440,
    ) -> None:
        self.engine = engine
        self.store = store
        self.options = options
        self.interval = interval
        self.now = now
        self.catchup = catchup
        self.hook = hook
        #: How far back (minutes) late data re-evaluates (`jobs/alert_replay.py`).
        self.late_minutes = late_minutes

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception:
                log.exception("alert evaluation failed; retrying at the next interval")

    async def run_once(self, at: float | None = None) -> PassResult:
        """One pass up to the minute of `at` (default: now), if this process gets the lock."""
        through = int((self.now() if at is None else at) // MINUTE * MINUTE)
        async with evaluator_lock(self.engine) as got:
            if not got:
                return PassResult(None)
            enabled = await alerts.every(self.engine, enabled_only=True)
            # Minutes already evaluated whose data changed first (late data), then new ones.
            found: list[alerts.Transition] = await alert_replay.replay_marked(self, enabled)
            skipped = 0
            for rule in enabled:
                try:
                    done, missed = await self._evaluate_rule(rule, through)
                except Exception:
                    # One broken rule (a window beyond retention, deleted meanwhile) must
                    # not stop the others; its minutes are retried at the next pass.
                    log.exception("alert rule %s: evaluation failed", rule.id)
                    continue
                found.extend(done)
                skipped += missed
            try:
                # Gate verdicts and adoption stages, for this minute only (jobs/changes.py).
                await detect_changes(self.engine, self.store, self.options, through)
            except Exception:
                log.exception("change detection failed; retrying at the next pass")
            return PassResult(found, skipped)

    async def _evaluate_rule(
        self, rule: alerts.AlertRule, through: int
    ) -> tuple[list[alerts.Transition], int]:
        last = rule.evaluated_through
        if last is not None and last >= through:
            return [], 0
        first = through if last is None else last + MINUTE
        oldest = through - (self.catchup - 1) * MINUTE
        skipped = 0
        if first < oldest:
            skipped = (oldest - first) // MINUTE
            log.warning("alert rule %s: skipped %d minutes older than the catch-up bound", rule.id, skipped)
            first = oldest
        found: list[alerts.Transition] = []
        for minute in range(first, through + MINUTE, MINUTE):
            found.extend(await self._evaluate_minute(rule, minute))
        await alerts.advance(self.engine, rule.id, through)
        return found, skipped

    async def _evaluate_minute(self, rule: alerts.AlertRule, at: int) -> list[alerts.Transition]:
        states = await alerts.states(self.engine, rule.id)
        releases = await self._releases(rule, at)
        judge = await alert_metrics.judge(self.store, self.options, rule, releases, at)
        found = []
        for release in releases:
            previous = states.get(release)
            if previous is not None and previous.evaluated_through >= at:
                continue  # this minute is committed for the release already
            before = rules.Level.OK if previous is None else previous.level
            n, after = judge(release, before)
            kind = rules.transition(before, after)
            if kind is None:
                continue
            transition = alerts.Transition(rule, release, before, after, kind, at, n.value)
            if await alerts.record(self.engine, transition, previous, self.hook):
                found.append(transition)
        return found

    async def _releases(self, rule: alerts.AlertRule, at: int) -> list[str]:
        spec = rule.spec
        selector = rules.Selector(spec.selector)
        if selector is rules.Selector.VERSION:
            return rules.select_releases(selector, spec.selector_argument, {}, at)
        window = period_seconds(Period[spec.time_window].value)
        start, end = widen(BOUNDS_EPOCH, at, HOUR)
        environments = None if spec.environment is None else (spec.environment,)
        bounds = await self.store.bucket_bounds(
            AggregateQuery(
                project_ids=(rule.project_id,),
                start=start,
                end=end,
                granularity=HOUR,
                quantities=frozenset({Quantity.COUNTERS}),
                group_by=("release",),
                filter=environment_filter(environments),
            )
        )
        in_window = widen(at - window, at, HOUR)[0]
        first_seen = {
            g.release: lo for g, (lo, hi) in bounds.items() if g.release is not None and hi >= in_window
        }
        return rules.select_releases(selector, spec.selector_argument, first_seen, at)


@contextlib.asynccontextmanager
async def evaluator_lock(engine: AsyncEngine) -> AsyncIterator[bool]:
    """True inside when this process is the evaluator for the pass, False when another is."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as lock:
            key = {"ns": LOCK_NAMESPACE, "k": 0}
            got = bool((await lock.execute(text("SELECT pg_try_advisory_lock(:ns, :k)"), key)).scalar_one())
            await lock.commit()
            try:
                yield got
            finally:
                if got:
                    await lock.execute(text("SELECT pg_advisory_unlock(:ns, :k)"), key)
                    await lock.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True
        return
    fd = os.open(f"{database}.alerts.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
