"""The Sentry-compatible sessions query (`release-health.md` section 8), pure parts.

A front end builds a `SessionsRequest` (REST: `params.parse_sessions_params`); `define`
validates it into a `SessionsQueryDefinition`; `executor.execute_sessions_query` runs that
against a store and answers a typed `SessionsQueryResult`.
"""

from .define import define
from .definition import (
    SessionsQueryContext,
    SessionsQueryDefinition,
    storage_granularity,
)
from .errors import SessionsQueryError, SessionsQueryForbidden, SessionsQueryNotFound
from .executor import execute_sessions_query, run_sessions_query
from .pagination import Cursor, link_header, page_cursors
from .params import build_definition, parse_sessions_params
from .request import SearchFilter, SessionsRequest
from .result import SessionsGroup, SessionsQueryResult

__all__ = [
    "Cursor",
    "SearchFilter",
    "SessionsGroup",
    "SessionsQueryContext",
    "SessionsQueryDefinition",
    "SessionsQueryError",
    "SessionsQueryForbidden",
    "SessionsQueryNotFound",
    "SessionsQueryResult",
    "SessionsRequest",
    "build_definition",
    "define",
    "execute_sessions_query",
    "link_header",
    "page_cursors",
    "parse_sessions_params",
    "run_sessions_query",
    "storage_granularity",
]
