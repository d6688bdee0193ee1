"""The `session.status` filter (`release-health.md` 8.10).

Status conditions are only understood at the top level of the query, combined with AND
(juxtaposition or an explicit `AND`); each gives a set of statuses, and several are
intersected. Unknown values are simply not members.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import errors
from .errors import SessionsQueryError
from .fields import ALL_STATUSES, STATUS_GROUP_BY
from .filter_parser import BooleanOperator, ParenGroup, SearchTerm, Token, iter_terms

STATUS_KEY = STATUS_GROUP_BY


def term_statuses(term: SearchTerm) -> frozenset[str]:
    """The statuses one top-level condition selects."""
    values = frozenset(term.values) & ALL_STATUSES
    operator = term.operator
    if operator in ("=", "IN"):
        return values
    if operator in ("!=", "NOT IN"):
        return ALL_STATUSES - values
    raise SessionsQueryError(errors.STATUS_OPERATOR)


def _mentions_status(token: Token) -> bool:
    if isinstance(token, SearchTerm):
        return token.key == STATUS_KEY
    if isinstance(token, ParenGroup):
        return any(term.key == STATUS_KEY for term in iter_terms(token.children))
    return False


def extract_status_filter(tokens: Sequence[Token]) -> frozenset[str] | None:
    """The parsed status filter (None when the query has no status condition); raises the
    two parse errors of 8.10 for the first offending top-level item."""
    has_or = any(isinstance(t, BooleanOperator) and t.operator == "OR" for t in tokens)
    selected: frozenset[str] | None = None
    for token in tokens:
        if not _mentions_status(token):
            continue
        if has_or or isinstance(token, ParenGroup):
            raise SessionsQueryError(errors.STATUS_NESTED)
        assert isinstance(token, SearchTerm)
        statuses = term_statuses(token)
        selected = statuses if selected is None else selected & statuses
    return selected


def is_top_level_status_term(token: Token) -> bool:
    return isinstance(token, SearchTerm) and token.key == STATUS_KEY
