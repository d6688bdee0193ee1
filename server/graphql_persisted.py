"""Which document a /graphql operation runs: its own text, an automatic persisted query
(Apollo's APQ), or, in allowlist mode, only a registered operation.

Allowlist mode refuses every other document for every token except those holding
`org:admin`: administrators keep GraphiQL and ad-hoc queries (their tokens belong on no
client); the apps' tokens (org:read) run only what was registered."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from strawberry.http import GraphQLRequestData

from gql.allowlist import ALLOWLIST_UNAVAILABLE, Allowlist
from gql.persisted import (
    PERSISTED_QUERY_NOT_ALLOWED,
    PERSISTED_QUERY_NOT_FOUND,
    PERSISTED_QUERY_NOT_SUPPORTED,
    PersistedQueryError,
    QueryStore,
    check_hash,
    not_found,
    not_supported,
    requested_hash,
    sha256_hex,
)
from storage.accounts import TokenInfo

Register = Callable[[str], None] | None


def persisted_status(code: str) -> int:
    """HTTP status of a persisted-query refusal: Apollo's link expects its retry signals
    (not found / not supported) in a 200 answer; a malformed request is a 400."""
    if code in (PERSISTED_QUERY_NOT_FOUND, PERSISTED_QUERY_NOT_SUPPORTED, PERSISTED_QUERY_NOT_ALLOWED):
        return 200
    if code == ALLOWLIST_UNAVAILABLE:
        return 503
    return 400


def not_allowed(registering: bool) -> PersistedQueryError:
    what = "registers no operation" if registering else "runs only registered operations"
    return PersistedQueryError(
        f"This server {what} (allowlist mode): register it with `relhealth persisted-queries add`.",
        PERSISTED_QUERY_NOT_ALLOWED,
    )


class PersistedQueries:
    def __init__(
        self, apq: QueryStore | None, allowlist: Allowlist | None, known: Mapping[str, str] | None = None
    ) -> None:
        self.apq = apq
        self.allowlist = allowlist
        #: Documents this server ships (the dashboard's operations), by hash: found by
        #: hash without allowlist mode too, whether APQ is on or not (allowlist mode finds
        #: them in the table, where startup registered them).
        self.known: Mapping[str, str] = known or {}

    async def resolve(
        self, data: GraphQLRequestData, token: TokenInfo
    ) -> tuple[GraphQLRequestData, Register]:
        """The operation to run, and what to call with its text once it was accepted (to
        store an APQ registration), or a PersistedQueryError."""
        digest = requested_hash(data.extensions)
        if self.allowlist is not None and "org:admin" not in token.scopes:
            return await self._allowlisted(self.allowlist, data, digest), None
        if digest is None:
            return data, None
        shipped = self.known.get(digest)
        if shipped is not None:
            if data.query is not None:
                check_hash(data.query, digest)
            return dataclasses.replace(data, query=shipped), None
        if self.apq is None:
            raise not_supported()
        if data.query is None:
            stored = self.apq.get(digest)
            if stored is None:
                raise not_found()
            return dataclasses.replace(data, query=stored), None
        check_hash(data.query, digest)
        store = self.apq
        return data, lambda query: store.put(digest, query)

    async def _allowlisted(
        self, allowlist: Allowlist, data: GraphQLRequestData, digest: str | None
    ) -> GraphQLRequestData:
        if digest is None:
            # A free-form text runs when it is exactly a registered document.
            if data.query is not None and await allowlist.get(sha256_hex(data.query)) is None:
                raise not_allowed(registering=False)
            return data
        stored = await allowlist.get(digest)
        if stored is None:
            if data.query is None:
                raise not_found()  # Apollo's link then sends the text: refused below
            check_hash(data.query, digest)
            raise not_allowed(registering=True)
        if data.query is not None:
            check_hash(data.query, digest)
        return dataclasses.replace(data, query=stored)
