"""Late data re-evaluates past windows (docs/alerts.md "Late data").

Ingest marks the (project, hour) of data that arrived after its hour ended
(`storage.sql.late`). At the start of a pass the evaluator replays, for every enabled rule
of a marked project, the minutes it already evaluated whose window holds a marked hour,
through the rule's `evaluated_through` (so the state it leaves is the replayed one), at
most `late_minutes` back:

- the replay starts from the level each release had before its first minute, as the
  transition log recorded it (`storage.alert_history`), and judges each minute as the
  live pass does (`jobs.alert_metrics.judge`), at its own instant, with today's data;
- a transition the log already has (same release, minute and level) is not recorded
  again; any other is recorded with its true minute and `late: true` (in the log, the
  incident and the event), with the state set to where the replay ended, all of one
  (rule, release) in one transaction (`storage.alerts.record_replay`);
- if the state still disagrees with the replay's last level (a live transition the
  replay does not find), one late transition brings it there, at the first minute of the
  replay's last run of that level after the state's own last change.

A mark is deleted only after every rule of its project was replayed, and only if no
commit marked the hour again meanwhile; a process killed mid-replay leaves it, and the
next pass replays again, which adds nothing that was committed (the log is checked)."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from gql.core.enums import Period
from jobs import alert_metrics
from resolvers import alerts as rules
from storage import alert_history, alerts
from storage.types import DAY, HOUR

if TYPE_CHECKING:
    from jobs.alerts import AlertTask

log = logging.getLogger(__name__)

MINUTE = 60


def reach(spec: alerts.AlertRuleSpec, adoption_window: int) -> int:
    """How far back (seconds) a minute's numbers read: the rule's window, adoption's 24
    hours, or the stage window (stages also look at older hours, but only to date an
    adoption; the window before the minute decides the stage)."""
    metric = rules.AlertMetric(spec.metric)
    if metric is rules.AlertMetric.ADOPTION_STAGE:
        return adoption_window
    window = (
        int(Period[spec.time_window].value[:-1]) * {"h": HOUR, "d": DAY}[Period[spec.time_window].value[-1]]
    )
    return max(window, DAY) if metric is rules.AlertMetric.ADOPTION else window


def first_minute(hours: list[int], window: int, through: int, late_minutes: int) -> int | None:
    """The first evaluated minute to replay: the earliest whose window (`[at - window, at]`
    widened to whole hours) holds a marked hour, i.e. `hour < at < hour + window + 1 h`,
    but at most `late_minutes` before `through`. None: nothing to replay."""
    oldest = through - (late_minutes - 1) * MINUTE
    starts = [h + MINUTE for h in hours if h + window + HOUR > max(oldest, h + MINUTE)]
    if not starts or late_minutes <= 0:
        return None
    first = max(min(starts), oldest)
    return first if first <= through else None


async def replay_marked(task: AlertTask, rules_by_id: list[alerts.AlertRule]) -> list[alerts.Transition]:
    """Replay the rules of every marked project; the late transitions recorded."""
    marks = await alert_history.marks(task.engine)
    if not marks:
        return []
    by_project: dict[int, list[alert_history.Mark]] = defaultdict(list)
    for m in marks:
        by_project[m.project_id].append(m)
    found: list[alerts.Transition] = []
    done: list[alert_history.Mark] = []
    for project_id, project_marks in by_project.items():
        hours = sorted(m.hour for m in project_marks)
        ok = True
        for rule in rules_by_id:
            if rule.project_id != project_id:
                continue
            try:
                found += await replay_rule(task, rule, hours)
            except Exception:
                # Kept marked: the next pass replays again (what was committed stays once).
                log.exception("alert rule %s: late-data replay failed", rule.id)
                ok = False
        if ok:
            done += project_marks
    await alert_history.clear(task.engine, done)
    return found


async def replay_rule(task: AlertTask, rule: alerts.AlertRule, hours: list[int]) -> list[alerts.Transition]:
    through = rule.evaluated_through
    if through is None:
        return []
    first = first_minute(hours, reach(rule.spec, task.options.adoption_window), through, task.late_minutes)
    if first is None:
        return []
    history = await alert_history.history(task.engine, rule.id, first)
    states = await alerts.states(task.engine, rule.id)
    level: dict[str, rules.Level] = {}
    value: dict[str, float | None] = {}
    run_start: dict[str, int] = {}
    found: dict[str, list[alerts.Transition]] = defaultdict(list)
    for at in range(first, through + MINUTE, MINUTE):
        releases = await task._releases(rule, at)
        judge = await alert_metrics.judge(task.store, task.options, rule, releases, at)
        for release in releases:
            if release not in level:
                level[release] = _level_before(release, history, states.get(release), first)
                run_start[release] = at
            before = level[release]
            n, after = judge(release, before)
            value[release] = n.value
            kind = rules.transition(before, after)
            if kind is None:
                continue
            level[release], run_start[release] = after, at
            if (release, at, after) not in history.recorded:
                found[release].append(
                    alerts.Transition(rule, release, before, after, kind, at, n.value, late=True)
                )
    recorded: list[alerts.Transition] = []
    for release, end in level.items():
        previous = states.get(release)
        changes = found.get(release, [])
        fix = _agree(rule, release, end, value[release], run_start[release], history, changes)
        if fix is not None:
            changes.append(fix)
        if not changes and (previous is None or previous.level is end):
            continue
        if await alerts.record_replay(
            task.engine, rule, release, changes, (end, value[release]), previous, task.hook
        ):
            recorded += sorted(changes, key=lambda t: t.at)
    return recorded


def _agree(
    rule: alerts.AlertRule,
    release: str,
    end: rules.Level,
    value: float | None,
    run_start: int,
    history: alert_history.History,
    found: list[alerts.Transition],
) -> alerts.Transition | None:
    """The late transition that makes the history end where the replay ended, if its last
    transition (recorded or just found) leads elsewhere: a live one the replay does not
    find. At the start of the replay's last run of `end`, or after that last transition."""
    known = [(at, 0, after) for r, at, after in history.recorded if r == release]
    known += [(t.at, 1, t.after) for t in found]
    if not known:
        return None
    last_at, _, last = max(known, key=lambda k: (k[0], k[1]))
    if last is end:
        return None
    at = max(run_start, last_at)
    kind = rules.transition(last, end)
    if kind is None or (at, end) in {(a, lv) for a, _, lv in known}:
        return None
    return alerts.Transition(rule, release, last, end, kind, at, value, late=True)


def _level_before(
    release: str, history: alert_history.History, state: alerts.State | None, first: int
) -> rules.Level:
    """The level a release had just before `first`: its last logged transition before
    it; else its state if that changed before `first` (a state older than the log);
    else OK, where every release starts."""
    if release in history.before:
        return history.before[release]
    if state is not None and state.evaluated_through < first:
        return state.level
    return rules.Level.OK
