"""The dashboard's GraphQL operations (`server/static/dashboard/operations.graphql`) as
persisted queries.

At startup every operation of the file is registered in the allowlist table, exactly as
`relhealth persisted-queries add --no-typename` registers it (the pages send plain
`fetch` requests, which add no `__typename`), so the dashboard works in allowlist mode.
Without allowlist mode the server answers the same hashes from memory, so the page's
first APQ GET finds its document on a fresh server too. `published()` is what
`/dashboard/operations.json` serves: the page never hashes anything itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.operation_files import Operation, OperationFileError, operations
from storage import persisted_queries

log = logging.getLogger("relhealth.dashboard")

SOURCE = "server/static/dashboard/operations.graphql"


@dataclass
class DashboardOperations:
    by_name: dict[str, Operation] = field(default_factory=dict)
    by_hash: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> DashboardOperations:
        """The file's named operations; a file that does not parse (or has an anonymous
        operation) is logged and gives none: the API keeps working without the page."""
        if text is None:
            return cls()
        try:
            ops = operations(text, typename=False, source=SOURCE)
        except OperationFileError:
            log.exception("the dashboard's operations cannot be registered")
            return cls()
        if any(op.name is None for op in ops):
            log.error("%s: every operation of the dashboard needs a name", SOURCE)
            return cls()
        return cls({op.name: op for op in ops if op.name}, {op.sha256: op.document for op in ops})

    def published(self) -> dict[str, dict[str, str]]:
        return {name: {"sha256Hash": op.sha256, "query": op.document} for name, op in self.by_name.items()}

    async def register(self, engine: AsyncEngine) -> None:
        entries = [(op.sha256, op.name, op.document, SOURCE) for op in self.by_name.values()]
        if not entries:
            return
        try:
            await persisted_queries.add(engine, entries)
        except IntegrityError:
            # Another process of this server registered them at the same moment.
            await persisted_queries.add(engine, entries)
