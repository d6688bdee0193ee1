"""The face of the session store: what resolvers, GraphQL and the server may ask of it.

Two implementations answer it: `storage.store.SessionStore` (SQL: SQLite and PostgreSQL)
and `storage.memory.MemoryStore` (plain Python, the reference). The contract suite
(`tests/store_contract/`) runs the same hand-worked cases against all of them.

Conventions shared by every method:

* Batch first. Every method takes all the projects, releases or series of a question at
  once and answers in one call, so a page costs a fixed number of calls whatever the
  number of releases or projects on it.
* Times are unix seconds (int), UTC. Ranges are half-open `[start, end)` over *bucket
  starts*: a bucket counts when its start lies in the range, whatever its width.
* Counts are of sessions (counters), of distinct session ids (the error set) or of
  distinct users; durations are seconds.
* Absent means "no data": groups, buckets, series and outcome rows without data are left
  out of results, never reported as zeros. `None` as an environment means "no
  environment" (a value of its own, distinct from `""`); `None` elsewhere in a group key
  means "not grouped by" (see `GroupKey`) or, for client dimensions, "unknown".
* Project ids are already authorized by the caller; the store does no access control.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from storage.types import AggregateQuery, AggregateResult, GroupKey, SeriesInfo, WriteBatch

#: An ingest outcome row: `(project_id, hour, item_type, kind, reason, count)`.
OutcomeRow = tuple[int, int, str, str, str, int]
#: An all-time outcome total: `(project_id, item_type, kind, reason, count)`.
OutcomeTotal = tuple[int, str, str, str, int]


class Store(Protocol):
    """A session-aggregate store. Safe to share between concurrent requests."""

    async def apply(
        self,
        batches: Sequence[WriteBatch],
        *,
        import_chunk: tuple[int, str, int, int] | None = None,
    ) -> None:
        """Count every increment and outcome of `batches`, atomically: all of them count or
        none does (the series catalogue may keep series of a failed call).

        Each `SessionIncrement` is bucketed by its `started` at every stored granularity
        (`storage.types.GRANULARITIES`); its counters add up, `error_sid` joins the error
        set, `user` joins the user set with `user_tags` OR-ed into that user's tags of the
        bucket, and `duration` (seconds) joins the duration distribution when it is finite
        and within [0, 2**32] (others are not recorded). A new (project, release,
        environment) enters the series catalogue with `first_seen` = the earliest `started`
        among this call's increments of that series. Each `OutcomeIncrement` adds its
        `quantity` to the hour of `received`.

        `import_chunk` = (import scope, import id, first line, last line) is recorded in
        the same transaction: a chunk already recorded (same scope, id and first line)
        makes the whole call fail, so a concurrent re-run never counts lines twice.
        Raises `UnknownProjectError` for an increment of a project the store does not know.
        """
        ...

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """The quantities of `query` over stored buckets of `query.granularity` whose start
        lies in `[query.start, query.end)`, for the series of `query.project_ids` matching
        `query.filter`, grouped by `query.group_by` (and by `floor(bucket / interval) *
        interval` when `query.interval` is set: `series` instead of `totals`).

        Counters are sums. Distinct counts (`errored_set`, `users.*`) are unions over every
        bucket and series of a group: a user seen in two buckets counts once, and counts
        under a tag (`users.crashed`...) when any of its buckets in the group carries the
        tag. `durations` has the exact count, sum, min and max and the sketch bins of
        `storage.sketch`. A group (or series bucket) is present when it has data of an
        asked quantity: a positive counter (COUNTERS), a duration (DURATIONS), an errored
        session (ERRORS), a user (USERS) or a user under a status tag (USER_STATUSES);
        quantities not asked stay at their defaults (`users.all` is filled by USERS, the
        per-status `users.*` by USER_STATUSES).
        `result.approximate` names the distinct-count kinds of which some value is an
        estimate; empty when every value is exact (always, for small data).
        No project ids or an empty range give an empty result.
        """
        ...

    async def bucket_bounds(self, query: AggregateQuery) -> dict[GroupKey, tuple[int, int]]:
        """Per group, the earliest and latest start of the stored buckets of
        `query.granularity` in `[start, end)` holding data of `query.quantities`: a
        positive counter (COUNTERS) and/or a duration (DURATIONS); other quantities are
        ignored. Groups without such a bucket are absent. `query.interval` must be None
        (`ValueError` otherwise)."""
        ...

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        """The subset of `releases` with at least one series of the project."""
        ...

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        """The subset of `environments` (names; never None) with at least one series of
        the project."""
        ...

    async def series(
        self, project_ids: Sequence[int], releases: Sequence[str] | None = None
    ) -> list[SeriesInfo]:
        """Every (project, release, environment) ever stored for the projects, restricted
        to `releases` unless None; in no particular order. Retention never removes a
        series."""
        ...

    async def releases_seen_in_org(self, org_id: int, releases: Sequence[str]) -> set[str]:
        """The subset of `releases` with a series in any project of the organization."""
        ...

    async def environments(self, org_id: int) -> dict[str, int]:
        """Environment records of the organization, name -> numeric id: one per name
        ever stored in a series of one of its projects (none for "no environment"; `""` is
        a name). Ids are stable and unique."""
        ...

    async def outcomes(
        self, project_ids: Sequence[int], start: int | None = None, end: int | None = None
    ) -> list[OutcomeRow]:
        """Ingest outcome rows of the projects whose hour lies in `[start, end)` (None:
        unbounded), ordered by (project, hour, item type, kind, reason)."""
        ...

    async def outcome_totals(self) -> list[OutcomeTotal]:
        """All-time outcome totals per (project, item type, kind, reason), every project;
        in no particular order."""
        ...

    async def ping(self) -> None:
        """Return when the store answers; raise otherwise (readiness)."""
        ...
