"""What a mutation checks before anything else: the token may write."""

from __future__ import annotations

from gql.core.context import ContextInfo
from gql.core.errors import Forbidden


def require_write(info: ContextInfo, what: str) -> int:
    """The caller's organization id when its token has `org:write` (or `org:admin`);
    otherwise a `FORBIDDEN` GraphQL error naming `what` ("health gates")."""
    if not info.context.token.can_write():
        raise Forbidden(f"Changing {what} needs a token with the org:write scope.")
    return info.context.org_id
