"""Bearer-token authentication for the query APIs."""

from __future__ import annotations

from starlette.requests import Request

from storage.accounts import AccountStore, TokenInfo


async def authenticate(
    request: Request, accounts: AccountStore
) -> tuple[TokenInfo | None, str]:
    """The token's grants, or None and a message saying what is wrong."""
    header = request.headers.get("authorization")
    if not header:
        return None, "Authentication credentials were not provided: send 'Authorization: Bearer <token>'."
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None, "Invalid authorization header: expected 'Bearer <token>'."
    token = await accounts.token(value.strip())
    if token is None:
        return None, "Invalid token."
    return token, ""
