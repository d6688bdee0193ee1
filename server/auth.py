"""Bearer-token authentication for the query APIs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.responses import error
from storage.accounts import AccountStore, TokenInfo


async def authenticate(request: Request, accounts: AccountStore) -> tuple[TokenInfo | None, str]:
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


async def authorize_org(
    request: Request, accounts: AccountStore, org: str, *, write: bool = False
) -> TokenInfo | Response:
    """The caller's grants on organization `org`, or the error response: 401 without a
    valid token, 404 for an unknown organization, 403 for another organization's or a
    token lacking the scope (`org:read`, or `org:write` when `write`)."""
    token, problem = await authenticate(request, accounts)
    if token is None:
        return error(401, problem)
    if token.org_slug != org:
        if await accounts.organization_id(org) is None:
            return error(404, "The requested resource does not exist")
        return error(403, "You do not have permission to perform this action.")
    if not (token.can_write() if write else token.can_read()):
        return error(403, "You do not have permission to perform this action.")
    return token
