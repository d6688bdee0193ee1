"""Resolving the parsed `query` filter into the store's filter AST (`release-health.md`
8.6, 8.7; 8.13 step 5).

Terms are validated and resolved in the order they appear, so the first offending term
answers. `session.status` terms are only checked here (wildcards); the status filter itself
is `status_filter`'s job, and top-level status terms are left out of the storage filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from storage.types import And, Cond, Dimension, Filter, Or

from . import errors
from .errors import SessionsQueryError
from .fields import CLIENT_KEYS
from .filter_parser import (
    AndExpr,
    Expression,
    OrExpr,
    SearchTerm,
    Token,
    iter_terms,
    to_expression,
)
from .release_filter import (
    LATEST,
    StageLookup,
    compare,
    release_build_filter,
    release_package_filter,
    release_stage_filter,
    release_version_filter,
)
from .status_filter import STATUS_KEY

PLAIN_KEYS = frozenset({"project", "project_id", "release", "environment", STATUS_KEY})
RELEASE_KEYS = frozenset({"release.version", "release.package", "release.build", "release.stage"})
ALLOWED_KEYS = PLAIN_KEYS | RELEASE_KEYS | CLIENT_KEYS.keys()

#: An asterisk preceded by an even number of backslashes (upstream `WILDCARD_CHARS`).
_WILDCARD_RE = re.compile(r"(?<!\\)(\\\\)*\*")


@dataclass(slots=True)
class FilterContext:
    """What resolving a filter needs besides the query.

    `releases` is called at most once, and only when a release filter is present; it
    returns the releases known to the server for the requested projects (extra releases of
    other projects are harmless, since the query is restricted to `project_ids`).
    """

    project_ids: tuple[int, ...]
    project_slugs: Mapping[int, str]
    environments: tuple[str, ...] = ()
    known_environments: Collection[str] | None = None
    releases: Callable[[], Collection[str]] = tuple
    release_stages: StageLookup | None = None
    #: `release:latest`: each requested project's newest release at the query's `now`.
    latest_releases: Callable[[], Collection[str]] = tuple
    _release_cache: Collection[str] | None = field(default=None, repr=False)

    def known_releases(self) -> Collection[str]:
        if self._release_cache is None:
            self._release_cache = self.releases()
        return self._release_cache


def is_wildcard(value: str) -> bool:
    return _WILDCARD_RE.search(value) is not None


def translate_escapes(value: str) -> str:
    """Upstream `translate_escape_sequences`: `\\*` is a literal asterisk."""
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value) and value[index + 1] == "*":
            out.append("*")
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _plain_values(term: SearchTerm) -> tuple[str, ...]:
    if isinstance(term.value, tuple):
        return term.value
    if is_wildcard(term.value):
        raise SessionsQueryError(errors.WILDCARD_NOT_SUPPORTED)
    return (translate_escapes(term.value),)


def _membership(
    dimension: str,
    term: SearchTerm,
    values: Sequence[str | int],
    candidates: Callable[[], Collection[str | int]],
) -> Cond:
    """`=`/`IN` -> IN, `!=`/`NOT IN` -> NOT IN, comparisons -> IN of the candidates that
    compare true with the (single) value."""
    operator = term.operator
    dim = _dimension(dimension)
    if operator in ("=", "IN"):
        return Cond(dim, tuple(dict.fromkeys(values)))
    if operator in ("!=", "NOT IN"):
        return Cond(dim, tuple(dict.fromkeys(values)), negate=True)
    (value,) = values
    matching = sorted(
        (c for c in candidates() if type(c) is type(value) and compare(c, operator, value)),
        key=lambda c: (str(type(c)), c),
    )
    return Cond(dim, tuple(matching))


def _dimension(name: str) -> Dimension:
    if name == "project_id":
        return "project_id"
    if name == "release":
        return "release"
    return "environment"


def resolve_term(term: SearchTerm, context: FilterContext) -> Cond | None:
    """Validate one term and resolve it to a condition (None for `session.status`)."""
    key = term.key
    if key not in ALLOWED_KEYS:
        raise SessionsQueryError(errors.invalid_search_filter(key))
    if key in RELEASE_KEYS:
        if key == "release.version":
            return release_version_filter(term, context.known_releases())
        if key == "release.package":
            return release_package_filter(term, context.known_releases())
        if key == "release.build":
            return release_build_filter(term, context.known_releases())
        return release_stage_filter(term, context.environments, context.release_stages)
    values = _plain_values(term)
    if key == STATUS_KEY:
        return None
    if key in CLIENT_KEYS:
        return _client_condition(key, term, values)
    if key == "project":
        return _project_slug_condition(term, values, context)
    if key == "project_id":
        ids: list[int] = []
        for value in values:
            try:
                ids.append(int(value))
            except ValueError:
                raise SessionsQueryError(f"Invalid project_id value: {value}") from None
        return _membership("project_id", term, ids, lambda: context.project_ids)
    if key == "release":
        if term.operator in ("=", "IN", "!=", "NOT IN") and LATEST in values:
            values = _with_latest(values, context)
        return _membership("release", term, values, context.known_releases)
    return _membership("environment", term, values, lambda: tuple(context.known_environments or ()))


def _client_condition(key: str, term: SearchTerm, values: Sequence[str]) -> Cond:
    """`os.name:iOS`, `!browser.name:[Chrome,Firefox]`: equality and lists only (the
    values of a client dimension have no order)."""
    if term.operator not in ("=", "IN", "!=", "NOT IN"):
        raise SessionsQueryError(f"Invalid search filter: {key} supports only = and IN")
    return Cond(CLIENT_KEYS[key], tuple(dict.fromkeys(values)), negate=term.operator in ("!=", "NOT IN"))


def _with_latest(values: Sequence[str], context: FilterContext) -> tuple[str, ...]:
    """`latest` among `release:` values stands for the newest release of each requested
    project (upstream resolves it the same way); nothing when no project has a release."""
    expanded: list[str] = []
    for value in values:
        if value == LATEST:
            expanded.extend(sorted(context.latest_releases()))
        else:
            expanded.append(value)
    return tuple(expanded)


def _project_slug_condition(term: SearchTerm, slugs: Sequence[str], context: FilterContext) -> Cond:
    by_slug = {context.project_slugs[pid]: pid for pid in context.project_ids if pid in context.project_slugs}
    operator = term.operator
    if operator in ("=", "IN"):
        missing = [slug for slug in dict.fromkeys(slugs) if slug not in by_slug]
        if missing:
            raise SessionsQueryError(errors.unknown_project_slugs(missing))
    if operator in ("=", "IN", "!=", "NOT IN"):
        ids = tuple(dict.fromkeys(by_slug[slug] for slug in slugs if slug in by_slug))
        return Cond("project_id", ids, negate=operator in ("!=", "NOT IN"))
    (value,) = slugs
    return Cond(
        "project_id",
        tuple(sorted(pid for slug, pid in by_slug.items() if compare(slug, operator, value))),
    )


def resolve_terms(tokens: Sequence[Token], context: FilterContext) -> dict[int, Cond | None]:
    """Step 5: resolve every term in order of appearance, keyed by `id(term)`."""
    return {id(term): resolve_term(term, context) for term in iter_terms(tokens)}


def compile_filter(tokens: Sequence[Token], resolved: Mapping[int, Cond | None]) -> Filter | None:
    """The storage filter of a query whose terms were resolved by `resolve_terms`.

    Status terms resolve to None and are dropped (the status filter has already rejected
    any that is not a top-level AND-ed condition)."""
    return _compile(to_expression(tokens), resolved)


def _compile(expression: Expression | None, resolved: Mapping[int, Cond | None]) -> Filter | None:
    if expression is None:
        return None
    if isinstance(expression, SearchTerm):
        return resolved[id(expression)]
    parts = [_compile(term, resolved) for term in expression.terms]
    if isinstance(expression, AndExpr):
        kept = tuple(part for part in parts if part is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(kept)
    assert isinstance(expression, OrExpr)
    if any(part is None for part in parts):
        return None  # a branch that is always true
    return Or(tuple(part for part in parts if part is not None))


def combine(*filters: Filter | None) -> Filter | None:
    """AND of the given filters, skipping None."""
    kept = tuple(f for f in filters if f is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else And(kept)
