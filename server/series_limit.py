"""Per-project caps on NEW releases and NEW environments per hour (live ingest only).

Every release and environment a project sends becomes part of its catalogue of series
(`release_env`) for good, and every query lists it: without a cap, one public DSN key can
create tens of thousands of them in seconds.

Whether a release or environment is new is judged against the catalogue in the database,
so one known to any server process (or imported) is never refused, and a restart forgets
nothing. The admissions are counted per project in fixed clock hours, in process memory,
like the session quota: with several server processes each admits up to the cap, so the
cluster-wide cap is the number of processes times the setting. An item whose release (or,
then, environment) is new once the hour's cap is used up is dropped and counted as
`too_many_releases` (`too_many_environments`), like any other drop. Bulk import is not
capped (it needs an `org:write` token, and backfills create many releases).
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.items import dropped_as
from storage.protocol import Store
from storage.types import WriteBatch

TOO_MANY_RELEASES = "too_many_releases"
TOO_MANY_ENVIRONMENTS = "too_many_environments"


class SeriesLimit:
    def __init__(
        self,
        store: Store,
        max_new_releases: int | None,
        max_new_environments: int | None,
    ) -> None:
        self.store = store
        self.max_new = {"release": max_new_releases, "environment": max_new_environments}
        self._known: dict[tuple[int, str], set[str]] = {}
        self._admitted: dict[tuple[int, str], tuple[int, int]] = {}  # -> (hour, count)

    async def admit(self, project_id: int, items: Sequence[WriteBatch], now: float) -> list[WriteBatch]:
        """The items, each one whose series would need a release or environment over the
        hour's cap replaced by its drop."""
        if all(cap is None for cap in self.max_new.values()):
            return list(items)
        releases = self._known.setdefault((project_id, "release"), set())
        environments = self._known.setdefault((project_id, "environment"), set())
        per_item = [{(i.release, i.environment) for i in batch.increments} for batch in items]
        pairs: set[tuple[str, str | None]] = set().union(*per_item)
        unknown_releases = {r for r, _ in pairs} - releases
        unknown_environments = {e for _, e in pairs if e is not None} - environments
        if not unknown_releases and not unknown_environments:
            return list(items)  # nearly every envelope: nothing new, nothing to count
        if unknown_releases:
            releases |= await self.store.known_releases(project_id, unknown_releases)
        if unknown_environments:
            environments |= await self.store.known_environments(project_id, unknown_environments)

        hour = int(now // 3600)
        admitted = []
        for batch, item_pairs in zip(items, per_item, strict=True):
            new_releases = {r for r, _ in item_pairs} - releases
            new_environments = {e for _, e in item_pairs if e is not None} - environments
            if not self._room(project_id, "release", hour, len(new_releases)):
                admitted.append(dropped_as(batch, TOO_MANY_RELEASES))
            elif not self._room(project_id, "environment", hour, len(new_environments)):
                admitted.append(dropped_as(batch, TOO_MANY_ENVIRONMENTS))
            else:
                self._take(project_id, "release", hour, len(new_releases))
                self._take(project_id, "environment", hour, len(new_environments))
                releases |= new_releases
                environments |= new_environments
                admitted.append(batch)
        return admitted

    def _used(self, project_id: int, kind: str, hour: int) -> int:
        window, used = self._admitted.get((project_id, kind), (hour, 0))
        return used if window == hour else 0

    def _room(self, project_id: int, kind: str, hour: int, wanted: int) -> bool:
        cap = self.max_new[kind]
        return not wanted or cap is None or self._used(project_id, kind, hour) + wanted <= cap

    def _take(self, project_id: int, kind: str, hour: int, n: int) -> None:
        if n:
            self._admitted[(project_id, kind)] = (hour, self._used(project_id, kind, hour) + n)
