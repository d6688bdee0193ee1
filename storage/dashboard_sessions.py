"""Sessions of the dashboard (README "Dashboard"): an API token exchanged for a cookie.

One row per signed-in browser. Only hashes of its secrets are kept: the key is the
SHA-256 of the cookie value and `csrf_hash` the SHA-256 of its CSRF token, so a copy of
the database signs nobody in. A session is as good as its API token: it is read joined
to `api_token`, so a deleted (revoked) token ends its sessions at once, and deleting a
token deletes them (`ondelete=CASCADE`, and `AccountStore.revoke_token` deletes them
first where foreign keys are not enforced). Times are unix seconds of the server clock,
compared as integers on every dialect."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from storage.models import API_TOKEN, ORGANIZATION


class DashboardSession(SQLModel, table=True):
    __tablename__ = "dashboard_session"

    #: SHA-256 (hex) of the cookie value.
    id_hash: str = Field(primary_key=True, max_length=64)
    token_id: int = Field(
        sa_column=Column(Integer, ForeignKey("api_token.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    #: SHA-256 (hex) of the session's CSRF token.
    csrf_hash: str = Field(max_length=64)
    created_at: int = Field(sa_type=BigInteger)
    #: Refused from this second on (and deleted by the next sign-in or look-up).
    expires_at: int = Field(sa_type=BigInteger, index=True)


DASHBOARD_SESSION: Table = DashboardSession.__table__  # type: ignore[attr-defined]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A live session: its token's organization and scopes, and the token's hash (the
    key of the token's cost budget, whichever way it is presented)."""

    org_id: int
    org_slug: str
    scopes: frozenset[str]
    token_hash: str
    csrf_hash: str


async def create(
    engine: AsyncEngine, cookie: str, csrf: str, token_hash: str, now: int, max_age: int
) -> bool:
    """Store a session for the token with this hash; False when there is no such token.
    Expired sessions of every token are deleted on the way (sign-ins are rate-limited, so
    this costs at most one statement per sign-in)."""
    s, t = DASHBOARD_SESSION, API_TOKEN
    async with engine.begin() as conn:
        await conn.execute(delete(s).where(s.c.expires_at <= now))
        token_id = await conn.scalar(select(t.c.id).where(t.c.token_hash == token_hash))
        if token_id is None:
            return False
        await conn.execute(
            s.insert().values(
                id_hash=digest(cookie),
                token_id=int(token_id),
                csrf_hash=digest(csrf),
                created_at=now,
                expires_at=now + max_age,
            )
        )
    return True


async def find(engine: AsyncEngine, cookie: str, now: int) -> SessionGrant | None:
    """The live session of this cookie value, or None (unknown, expired, or its token is
    gone). An expired session found is deleted."""
    s, t, o = DASHBOARD_SESSION, API_TOKEN, ORGANIZATION
    key = digest(cookie)
    stmt = (
        select(s.c.expires_at, s.c.csrf_hash, t.c.token_hash, t.c.scopes, o.c.id, o.c.slug)
        .select_from(s.join(t, t.c.id == s.c.token_id).join(o, o.c.id == t.c.org_id))
        .where(s.c.id_hash == key)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    expires_at, csrf_hash, token_hash, scopes, org_id, org_slug = row
    if int(expires_at) <= now:
        await remove(engine, cookie)
        return None
    return SessionGrant(int(org_id), str(org_slug), frozenset(str(scopes).split()), token_hash, csrf_hash)


async def remove(engine: AsyncEngine, cookie: str) -> None:
    s = DASHBOARD_SESSION
    async with engine.begin() as conn:
        await conn.execute(delete(s).where(s.c.id_hash == digest(cookie)))
