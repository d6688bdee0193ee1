"""Bounds on a GraphQL request, checked before execution: the document's size in tokens
and depth (counted through fragments), with a clear error instead of a crash for documents
the depth counter cannot follow (an unknown fragment, a chain of fragments deeper than
Python's recursion limit), and the length of the lists in its variables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from graphql import ExecutionResult, GraphQLError
from graphql.validation import ASTValidationRule, ValidationContext
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

#: Tokens in one document: the largest queries a router or GraphiQL sends (introspection
#: is about 400) are far below; it bounds parsing and validation time.
MAX_TOKENS: Final = 10_000
FRAGMENTS_TOO_DEEP: Final = "The document's fragments are nested too deeply"
#: Items in one list of the variables (ids, versions, environments). Lists become SQL
#: `IN (...)` parameters and PostgreSQL takes at most 32767 per statement; a literal list
#: is bounded by `MAX_TOKENS` already.
MAX_LIST_ITEMS: Final = 1000
LIST_TOO_LONG: Final = f"A list in the variables has more than {MAX_LIST_ITEMS} items"


def guarded(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """`rule` (Strawberry's depth or alias limit, which walk the document in their
    constructor), made total: a spread of an unknown fragment is left to the standard
    rule that names it, and fragments nested past the recursion limit are refused."""

    class Guarded(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            try:
                super().__init__(context)
            except KeyError:  # unknown fragment: KnownFragmentNamesRule reports it
                ASTValidationRule.__init__(self, context)
            except RecursionError:
                ASTValidationRule.__init__(self, context)
                context.report_error(GraphQLError(FRAGMENTS_TOO_DEEP))

    Guarded.__name__ = rule.__name__
    return Guarded


def document_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """The depth and alias limits, built once: ValidationCache keys on the rule classes,
    so rules created per request would never hit the cache."""
    return [
        guarded(depth_validator(max_depth, None, None)),
        guarded(alias_validator(max_aliases)),
    ]


def longest_list(value: Any) -> int:
    """The length of the longest list anywhere in a JSON value (iteratively: the value
    may be nested as deep as the JSON decoder allows)."""
    longest = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            longest = max(longest, len(item))
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return longest


class VariableLimits(SchemaExtension):
    """Refuses variables holding a list longer than `MAX_LIST_ITEMS` with BAD_USER_INPUT,
    before anything is resolved."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if longest_list(context.variables or {}) > MAX_LIST_ITEMS:
            error = GraphQLError(LIST_TOO_LONG, extensions={"code": "BAD_USER_INPUT"})
            context.result = ExecutionResult(data=None, errors=[error])
            if hasattr(context.context, "refusal"):
                context.context.refusal = error  # subscriptions start regardless
        yield
