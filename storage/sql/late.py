"""Late data for the alert evaluator (docs/alerts.md "Late data"): the (project, hour) of
every accepted increment whose hour had already ended when it was committed.

Alert windows are read in whole hours, so every minute of the hour in progress sees that
hour's bucket as it fills; what comes in for an hour that has ended changes numbers the
evaluator already judged, and it re-evaluates those minutes (`jobs/alert_replay.py`).

Marking costs the group commit one set built during the fold (a comparison per
increment, off the event loop) and, only when that set is not empty, one more upsert in
the same transaction: the marks commit with the data or not at all. `marks` counts the
commits that marked the hour, so the evaluator deletes exactly the marks it handled and
keeps one that came in meanwhile (`storage.alert_history.clear_dirty`)."""

from __future__ import annotations

from storage.types import HOUR, WriteBatch

#: Rows are (project id, hour, 1): every value a parameter, so that a big group can go
#: through COPY like the fact upserts (`storage.sql.copy`).
UPSERT = (
    "INSERT INTO alert_dirty (project_id, hour, marks) VALUES ({}, {}, {})"
    " ON CONFLICT (project_id, hour) DO UPDATE SET marks = alert_dirty.marks + 1"
)


def late_hours(batch: WriteBatch, now: float) -> list[tuple[int, int, int]]:
    """The `UPSERT` rows (project id, hour start, 1) of the increments whose hour ended
    before `now`, sorted (concurrent PostgreSQL writers lock in one order)."""
    current = int(now) // HOUR * HOUR
    # A set comprehension over the increments: the cheapest pass Python offers here.
    found = {(i.project_id, int(i.started // HOUR)) for i in batch.increments if i.started < current}
    return [(p, h * HOUR, 1) for p, h in sorted(found)]
