"""The session-aggregate store: batched writes of increments, aggregate reads.

`SessionStore` is the face the rest of the product uses; its parts live in `storage.sql`:
the write path (`write`, `fold`), the read path (`read`, `filters`) and the catalogue of
series, environments and outcomes (`catalogue`). Reads issue at most one statement per
fact table, whatever the number of releases or projects asked about.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from storage import approximation
from storage.sql.catalogue import Catalogue, UnknownProjectError
from storage.sql.dimensions import DEFAULT_VALUES_PER_PROJECT, ClientSeries
from storage.sql.filters import env_key
from storage.sql.read import AggregateReader
from storage.sql.write import DEFAULT_MINUTE_RETENTION, FactWriter
from storage.types import AggregateQuery, AggregateResult, GroupKey, SeriesInfo, WriteBatch

__all__ = ["SessionStore", "UnknownProjectError", "env_key"]


class SessionStore:
    """Session aggregates over one async engine. Safe to share between requests: every
    call opens its own short-lived connection.

    `minute_retention` (seconds, 0 = forever) and the clock `now` (unix seconds) decide
    which minute buckets writes still make: only those the cleanup would keep (see
    `FactWriter`); the server passes its settings and clock. `dimension_values_per_project`
    caps the client-dimension values of a project per family (`storage.sql.dimensions`).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        minute_retention: int = DEFAULT_MINUTE_RETENTION,
        now: Callable[[], float] = time.time,
        dimension_values_per_project: int = DEFAULT_VALUES_PER_PROJECT,
    ) -> None:
        self.engine = engine
        self.catalogue = Catalogue(engine)
        self.writer = FactWriter(
            engine,
            self.catalogue,
            ClientSeries(engine, dimension_values_per_project),
            minute_retention=minute_retention,
            now=now,
        )
        self.reader = AggregateReader(engine)

    async def apply(
        self,
        batches: Sequence[WriteBatch],
        *,
        import_chunk: tuple[int, str, int, int] | None = None,
    ) -> None:
        """Apply batches in one transaction: all of them count, or none does.

        `import_chunk` (import scope, import id, first line, last line) is recorded in the same
        transaction: bulk import's progress, which makes re-runs skip committed lines.
        """
        await self.writer.apply(batches, import_chunk=import_chunk)

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        """Aggregate the facts the query selects; see `AggregateQuery`."""
        result = await self.reader.aggregate(query)
        if result.approximate:
            approximation.note(result.approximate)
        return result

    async def bucket_bounds(self, query: AggregateQuery) -> dict[GroupKey, tuple[int, int]]:
        """Earliest and latest bucket start per group; see `AggregateReader.bucket_bounds`."""
        return await self.reader.bucket_bounds(query)

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        """The subset of `releases` already in the project's series catalogue."""
        return await self.catalogue.known_releases(project_id, releases)

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        """The subset of `environments` already in the project's series catalogue."""
        return await self.catalogue.known_environments(project_id, environments)

    async def series(
        self, project_ids: Sequence[int], releases: Sequence[str] | None = None
    ) -> list[SeriesInfo]:
        """Every (project, release, environment) ever seen for the projects."""
        return await self.catalogue.series(project_ids, releases)

    async def releases_seen_in_org(self, org_id: int, releases: Sequence[str]) -> set[str]:
        """The subset of `releases` that appeared in any session data of the org."""
        return await self.catalogue.releases_seen_in_org(org_id, releases)

    async def environments(self, org_id: int) -> dict[str, int]:
        """Environment records of the org: name -> numeric id."""
        return await self.catalogue.environments(org_id)

    async def outcomes(
        self, project_ids: Sequence[int], start: int | None = None, end: int | None = None
    ) -> list[tuple[int, int, str, str, str, int]]:
        """Ingest outcome rows `(project_id, hour, item_type, kind, reason, count)`."""
        return await self.catalogue.outcomes(project_ids, start, end)

    async def outcome_totals(self) -> list[tuple[int, str, str, str, int]]:
        """All-time outcome totals `(project_id, item_type, kind, reason, count)`."""
        return await self.catalogue.outcome_totals()

    async def ping(self) -> None:
        await self.catalogue.ping()
