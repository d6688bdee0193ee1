"""The series catalogue and other small reads: which (project, release, environment)
exist, their ids, environments and ingest outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import INGEST_OUTCOME, RELEASE_ENV
from storage.release_parser import version_key
from storage.sql.filters import env_key, expanding
from storage.sql.fold import SeriesTriple
from storage.types import SeriesInfo, WriteBatch

_SERIES_INSERT = text(
    "INSERT INTO release_env (org_id, project_id, release, environment, env_key, first_seen, version)"
    " VALUES (:org, :p, :r, :e, :k, :fs, :v)"
    " ON CONFLICT (project_id, release, env_key, client) DO NOTHING"
)
_ENVIRONMENT_INSERT = text(
    "INSERT INTO environment (org_id, name) VALUES (:org, :name) ON CONFLICT (org_id, name) DO NOTHING"
)


class UnknownProjectError(LookupError):
    pass


class Catalogue:
    """Series ids (cached for the process: a series row is never deleted or renumbered),
    project organizations, environments and outcomes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._series_ids: dict[SeriesTriple, int] = {}
        self._project_orgs: dict[int, int] = {}

    def known_ids(self) -> dict[SeriesTriple, int]:
        """Every series id known so far (the cache itself: read it, never change it)."""
        return self._series_ids

    async def series_for(self, batch: WriteBatch) -> dict[SeriesTriple, int]:
        """Ids of every series of the batch (created first when new)."""
        wanted: dict[SeriesTriple, float] = {}
        for inc in batch.increments:
            key = (inc.project_id, inc.release, inc.environment)
            if key not in self._series_ids:
                first = wanted.get(key)
                wanted[key] = inc.started if first is None else min(first, inc.started)
        if wanted:
            await self._create_series(wanted)
        return self._series_ids

    async def ids_for(self, first_seen: Mapping[SeriesTriple, float]) -> dict[SeriesTriple, int]:
        """Ids of the series `first_seen` names (triple -> its earliest session start),
        created first when new: `series_for` when the caller has no increments (a bulk
        import folds its increments where it parses them)."""
        wanted = {key: first for key, first in first_seen.items() if key not in self._series_ids}
        if wanted:
            await self._create_series(wanted)
        return {key: self._series_ids[key] for key in first_seen}

    async def _create_series(self, wanted: dict[SeriesTriple, float]) -> None:
        # Series rows are created in their own committed transaction: they are idempotent,
        # and the id cache must never hold ids of a rolled-back insert.
        async with self.engine.begin() as conn:
            await self._load_project_orgs(conn, {p for p, _, _ in wanted})
            params = [
                {
                    "org": self._project_orgs[p],
                    "p": p,
                    "r": r,
                    "e": e,
                    "k": env_key(e),
                    "fs": int(first),
                    "v": version_key(r),
                }
                for (p, r, e), first in sorted(wanted.items(), key=lambda kv: _triple_sort(kv[0]))
            ]
            await _execute_many(conn, _SERIES_INSERT, params)
            env_params = sorted({(self._project_orgs[p], e) for p, _, e in wanted if e is not None})
            await _execute_many(conn, _ENVIRONMENT_INSERT, [{"org": o, "name": n} for o, n in env_params])
            t = RELEASE_ENV
            projects = sorted({p for p, _, _ in wanted})
            releases = sorted({r for _, r, _ in wanted})
            result = await conn.execute(
                select(t.c.id, t.c.project_id, t.c.release, t.c.environment).where(
                    t.c.project_id.in_(projects), t.c.release.in_(releases), t.c.client == 0
                )
            )
            for sid, p, r, e in result:
                self._series_ids[(p, r, e)] = sid

    # known_releases, known_environments and releases_seen_in_org need no `client = 0`:
    # every client series has its base series (storage/sql/dimensions.py), so the answers
    # are the same, and the statements stay covered by their indexes.

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        """The subset of `releases` already in the project's series catalogue."""
        wanted = sorted(set(releases))
        if not wanted:
            return set()
        t = RELEASE_ENV
        stmt = select(t.c.release).where(t.c.project_id == project_id, t.c.release.in_(wanted)).distinct()
        async with self.engine.connect() as conn:
            return {r for (r,) in await conn.execute(stmt)}

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        """The subset of `environments` already in the project's series catalogue."""
        wanted = sorted({env_key(e) for e in environments})
        if not wanted:
            return set()
        t = RELEASE_ENV
        stmt = select(t.c.environment).where(t.c.project_id == project_id, t.c.env_key.in_(wanted)).distinct()
        async with self.engine.connect() as conn:
            return {e for (e,) in await conn.execute(stmt) if e is not None}

    async def _load_project_orgs(self, conn: AsyncConnection, projects: set[int]) -> None:
        missing = sorted(projects - self._project_orgs.keys())
        if not missing:
            return
        result = await conn.execute(
            text("SELECT id, org_id FROM project WHERE id IN :ids").bindparams(expanding("ids")),
            {"ids": missing},
        )
        for pid, org in result:
            self._project_orgs[pid] = org
        unknown = [p for p in missing if p not in self._project_orgs]
        if unknown:
            raise UnknownProjectError(f"unknown project ids: {unknown}")

    # -- reads -------------------------------------------------------------------

    async def series(
        self,
        project_ids: Sequence[int],
        releases: Sequence[str] | None = None,
    ) -> list[SeriesInfo]:
        """Every (project, release, environment) ever seen for the projects."""
        if not project_ids:
            return []
        t = RELEASE_ENV
        stmt = select(t.c.project_id, t.c.release, t.c.environment, t.c.first_seen).where(
            t.c.project_id.in_(sorted(set(project_ids))), t.c.client == 0
        )
        if releases is not None:
            stmt = stmt.where(t.c.release.in_(sorted(set(releases))))
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt)
            return [SeriesInfo(p, r, e, int(f)) for p, r, e, f in rows]

    async def releases_seen_in_org(self, org_id: int, releases: Sequence[str]) -> set[str]:
        """The subset of `releases` that appeared in any session data of the org."""
        if not releases:
            return set()
        t = RELEASE_ENV
        stmt = (
            select(t.c.release).where(t.c.org_id == org_id, t.c.release.in_(sorted(set(releases)))).distinct()
        )
        async with self.engine.connect() as conn:
            return {r for (r,) in await conn.execute(stmt)}

    async def environments(self, org_id: int) -> dict[str, int]:
        """Environment records of the org: name -> numeric id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT name, id FROM environment WHERE org_id = :org"), {"org": org_id}
            )
            return {name: eid for name, eid in rows}

    async def outcomes(
        self, project_ids: Sequence[int], start: int | None = None, end: int | None = None
    ) -> list[tuple[int, int, str, str, str, int]]:
        """Ingest outcome rows `(project_id, hour, item_type, kind, reason, count)`."""
        if not project_ids:
            return []
        t = INGEST_OUTCOME
        stmt = select(t.c.project_id, t.c.hour, t.c.item_type, t.c.kind, t.c.reason, t.c.count)
        stmt = stmt.where(t.c.project_id.in_(sorted(set(project_ids))))
        if start is not None:
            stmt = stmt.where(t.c.hour >= start)
        if end is not None:
            stmt = stmt.where(t.c.hour < end)
        stmt = stmt.order_by(t.c.project_id, t.c.hour, t.c.item_type, t.c.kind, t.c.reason)
        async with self.engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(stmt)]  # type: ignore[misc]

    async def outcome_totals(self) -> list[tuple[int, str, str, str, int]]:
        """All-time outcome totals `(project_id, item_type, kind, reason, count)`."""
        t = INGEST_OUTCOME
        stmt = select(t.c.project_id, t.c.item_type, t.c.kind, t.c.reason, func.sum(t.c.count)).group_by(
            t.c.project_id, t.c.item_type, t.c.kind, t.c.reason
        )
        async with self.engine.connect() as conn:
            return [(p, it, k, r, int(n)) for p, it, k, r, n in await conn.execute(stmt)]

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))


def _triple_sort(key: SeriesTriple) -> tuple[int, str, int, str]:
    p, r, e = key
    return (p, r, 0 if e is None else 1, e or "")


async def _execute_many(conn: AsyncConnection, stmt: Any, params: list[dict[str, Any]]) -> None:
    if params:
        await conn.execute(stmt, params)
