"""Organizations, projects, DSN keys and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import API_TOKEN, ORGANIZATION, PROJECT, PROJECT_KEY
from storage.read_cache import ReadCache

SCOPES = ("org:read", "org:write", "org:admin")


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: int
    slug: str
    org_id: int
    org_slug: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    public_key: str
    project_id: int
    org_id: int
    is_active: bool


@dataclass(frozen=True, slots=True)
class TokenInfo:
    org_id: int
    org_slug: str
    scopes: frozenset[str]

    def can_read(self) -> bool:
        return bool(self.scopes & set(SCOPES))

    def can_write(self) -> bool:
        return bool(self.scopes & {"org:write", "org:admin"})


class AccountError(ValueError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    """Reads are cached briefly in process: ingest looks a key up on every envelope, and
    every API request its token and the projects it names. Nothing here deletes a project
    or changes a token's scopes, so a cached hit can only go stale through a key's
    `is_active` or a revoked token, which this process's own changes clear at once."""

    KEY_CACHE_SECONDS = 10.0
    #: Tokens and projects found: long enough to spare the round trip on every request.
    ACCOUNT_CACHE_SECONDS = 60.0

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._keys: ReadCache[str, KeyInfo] = ReadCache(self.KEY_CACHE_SECONDS)
        self._tokens: ReadCache[str, TokenInfo] = ReadCache(self.ACCOUNT_CACHE_SECONDS)
        self._projects_by_id: ReadCache[int, ProjectInfo] = ReadCache(self.ACCOUNT_CACHE_SECONDS)
        #: Bumped by every key change made through this store, so that in-process key
        #: caches (server/key_catalogue.py) drop what they hold at once.
        self.key_generation = 0

    # -- writes ------------------------------------------------------------------

    async def ensure_organization(self, slug: str) -> int:
        async with self.engine.begin() as conn:
            org_id = (
                await conn.execute(select(ORGANIZATION.c.id).where(ORGANIZATION.c.slug == slug))
            ).scalar()
            if org_id is not None:
                return int(org_id)
            result = await conn.execute(ORGANIZATION.insert().values(slug=slug, created_at=_now()))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    async def create_project(
        self, org_slug: str, slug: str, project_id: int | None = None
    ) -> tuple[ProjectInfo, str]:
        """Create the organization if needed, the project and one DSN key."""
        if project_id is not None and project_id <= 0:
            raise AccountError("project id must be a positive integer")
        org_id = await self.ensure_organization(org_slug)
        public_key = secrets.token_hex(16)
        async with self.engine.begin() as conn:
            t = PROJECT
            exists = (
                await conn.execute(select(t.c.id).where(t.c.org_id == org_id, t.c.slug == slug))
            ).scalar()
            if exists is not None:
                raise AccountError(f"project {org_slug}/{slug} already exists (id {exists})")
            if project_id is not None:
                taken = (await conn.execute(select(t.c.id).where(t.c.id == project_id))).scalar()
                if taken is not None:
                    raise AccountError(f"project id {project_id} is already taken")
            values = {"org_id": org_id, "slug": slug, "created_at": _now()}
            if project_id is not None:
                values["id"] = project_id
            result = await conn.execute(t.insert().values(**values))
            pid = int(project_id if project_id is not None else result.inserted_primary_key[0])  # type: ignore[index]
            await conn.execute(
                PROJECT_KEY.insert().values(
                    public_key=public_key, project_id=pid, is_active=True, created_at=_now()
                )
            )
            if self.engine.dialect.name == "postgresql" and project_id is not None:
                # Explicit ids bypass the sequence; move it past them.
                await conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('project', 'id'),"
                    " GREATEST((SELECT MAX(id) FROM project), 1))"
                )
        self.key_generation += 1
        return ProjectInfo(pid, slug, org_id, org_slug), public_key

    async def add_key(self, project_id: int, public_key: str | None = None) -> str:
        key = public_key or secrets.token_hex(16)
        async with self.engine.begin() as conn:
            await conn.execute(
                PROJECT_KEY.insert().values(
                    public_key=key, project_id=project_id, is_active=True, created_at=_now()
                )
            )
        self.key_generation += 1
        return key

    async def set_key_active(self, public_key: str, active: bool) -> None:
        t = PROJECT_KEY
        async with self.engine.begin() as conn:
            await conn.execute(t.update().where(t.c.public_key == public_key).values(is_active=active))
        self._keys.pop(public_key)
        self.key_generation += 1

    async def revoke_token(self, token: str) -> bool:
        """Delete an API token and the dashboard sessions signed in with it; False when
        there is no such token. This process stops accepting it at once; others within
        `ACCOUNT_CACHE_SECONDS` (their sessions end at once: they are read from the table)."""
        from storage.dashboard_sessions import DASHBOARD_SESSION

        token_hash = hash_token(token)
        t = API_TOKEN
        async with self.engine.begin() as conn:
            token_id = await conn.scalar(select(t.c.id).where(t.c.token_hash == token_hash))
            if token_id is None:
                return False
            s = DASHBOARD_SESSION
            await conn.execute(s.delete().where(s.c.token_id == token_id))
            await conn.execute(t.delete().where(t.c.id == token_id))
        self._tokens.pop(token_hash)
        return True

    async def create_token(self, org_slug: str, scopes: Sequence[str]) -> str:
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise AccountError(
                f"invalid scope(s) {', '.join(bad) or '(none)'}; choose from {', '.join(SCOPES)}"
            )
        org_id = await self.organization_id(org_slug)
        if org_id is None:
            raise AccountError(f"organization {org_slug!r} does not exist")
        token = "rh_" + secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            await conn.execute(
                API_TOKEN.insert().values(
                    org_id=org_id,
                    token_hash=hash_token(token),
                    scopes=" ".join(sorted(set(scopes))),
                    created_at=_now(),
                )
            )
        return token

    # -- reads -------------------------------------------------------------------

    async def organization_id(self, slug: str) -> int | None:
        async with self.engine.connect() as conn:
            t = ORGANIZATION
            value = (await conn.execute(select(t.c.id).where(t.c.slug == slug))).scalar()
            return None if value is None else int(value)

    async def key(self, public_key: str) -> KeyInfo | None:
        cached = self._keys.get(public_key)
        if cached is not None:
            return cached
        k, p = PROJECT_KEY, PROJECT
        stmt = (
            select(k.c.project_id, k.c.is_active, p.c.org_id)
            .select_from(k.join(p, p.c.id == k.c.project_id))
            .where(k.c.public_key == public_key)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        info = KeyInfo(public_key, int(row[0]), int(row[2]), bool(row[1]))
        self._keys.put(public_key, info)
        return info

    async def all_keys(self) -> list[KeyInfo]:
        """Every DSN key (the ingest key catalogue loads them at once)."""
        k, p = PROJECT_KEY, PROJECT
        stmt = select(k.c.public_key, k.c.project_id, k.c.is_active, p.c.org_id).select_from(
            k.join(p, p.c.id == k.c.project_id)
        )
        async with self.engine.connect() as conn:
            return [
                KeyInfo(str(key), int(pid), int(org), bool(active))
                for key, pid, active, org in await conn.execute(stmt)
            ]

    async def token(self, token: str) -> TokenInfo | None:
        return await self.token_by_hash(hash_token(token))

    async def token_by_hash(self, token_hash: str) -> TokenInfo | None:
        """The token whose `hash_token` is `token_hash` (what a holder of a connection keeps
        instead of the secret), through the same cache as `token`."""
        cached = self._tokens.get(token_hash)
        if cached is not None:
            return cached
        t, o = API_TOKEN, ORGANIZATION
        stmt = (
            select(t.c.org_id, o.c.slug, t.c.scopes)
            .select_from(t.join(o, o.c.id == t.c.org_id))
            .where(t.c.token_hash == token_hash)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        info = TokenInfo(int(row[0]), str(row[1]), frozenset(str(row[2]).split()))
        self._tokens.put(token_hash, info)
        return info

    async def projects(self, project_ids: Sequence[int]) -> dict[int, ProjectInfo]:
        """Projects by id (missing ids are absent)."""
        found: dict[int, ProjectInfo] = {}
        missing: set[int] = set()
        for pid in project_ids:
            cached = self._projects_by_id.get(pid)
            if cached is None:
                missing.add(pid)
            else:
                found[pid] = cached
        if missing:
            for p in await self._projects(PROJECT.c.id.in_(sorted(missing))):
                self._projects_by_id.put(p.id, p)
                found[p.id] = p
        return found

    async def projects_of_org(self, org_id: int) -> list[ProjectInfo]:
        return await self._projects(PROJECT.c.org_id == org_id)

    async def _projects(self, where: ColumnElement[bool]) -> list[ProjectInfo]:
        p, o = PROJECT, ORGANIZATION
        stmt = (
            select(p.c.id, p.c.slug, p.c.org_id, o.c.slug)
            .select_from(p.join(o, o.c.id == p.c.org_id))
            .where(where)
            .order_by(p.c.id)
        )
        async with self.engine.connect() as conn:
            return [ProjectInfo(int(i), s, int(oi), os) for i, s, oi, os in await conn.execute(stmt)]

    async def organizations(self, slugs: Sequence[str]) -> dict[str, int]:
        if not slugs:
            return {}
        o = ORGANIZATION
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(o.c.slug, o.c.id).where(o.c.slug.in_(sorted(set(slugs)))))
            return {s: int(i) for s, i in rows}

    async def count_projects(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(PROJECT))).scalar() or 0)

    async def first_key(self, project_id: int) -> str | None:
        k = PROJECT_KEY
        async with self.engine.connect() as conn:
            return (  # type: ignore[no-any-return]
                await conn.execute(
                    select(k.c.public_key)
                    .where(k.c.project_id == project_id, k.c.is_active.is_(True))
                    .order_by(k.c.created_at)
                    .limit(1)
                )
            ).scalar()


def _now() -> datetime:
    return datetime.now(UTC)
