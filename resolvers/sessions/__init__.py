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
from .executor import SessionsQueryResult, execute_sessions_query, run_sessions_query
from .pagination import Cursor, link_header, page_cursors

__all__ = [
    "Cursor",
    "SessionsQueryContext",
    "SessionsQueryDefinition",
    "SessionsQueryError",
    "SessionsQueryForbidden",
    "SessionsQueryNotFound",
    "SessionsQueryResult",
    "build_definition",
    "execute_sessions_query",
    "link_header",
    "page_cursors",
    "run_sessions_query",
    "storage_granularity",
]
