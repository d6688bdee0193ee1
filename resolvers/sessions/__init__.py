"""The Sentry-compatible sessions query (`release-health.md` section 8), pure parts.

`build_definition` parses and validates a request into a `SessionsQueryDefinition`;
`executor.run_sessions_query` runs it against a store.
"""

from .definition import (
    SessionsQueryContext,
    SessionsQueryDefinition,
    build_definition,
    storage_granularity,
)
from .errors import SessionsQueryError, SessionsQueryForbidden, SessionsQueryNotFound
from .pagination import Cursor, link_header, page_cursors

__all__ = [
    "Cursor",
    "SessionsQueryContext",
    "SessionsQueryDefinition",
    "SessionsQueryError",
    "SessionsQueryForbidden",
    "SessionsQueryNotFound",
    "build_definition",
    "link_header",
    "page_cursors",
    "storage_granularity",
]
