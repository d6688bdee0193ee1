"""Bounds on a GraphQL document, checked before execution: its size in tokens and its
depth (counted through fragments), with a clear error instead of a crash for documents
the depth counter cannot follow (an unknown fragment, a chain of fragments deeper than
Python's recursion limit)."""

from __future__ import annotations

from typing import Final

from graphql import GraphQLError
from graphql.validation import ASTValidationRule, ValidationContext
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

#: Tokens in one document: the largest queries a router or GraphiQL sends (introspection
#: is about 400) are far below; it bounds parsing and validation time.
MAX_TOKENS: Final = 10_000
FRAGMENTS_TOO_DEEP: Final = "The document's fragments are nested too deeply"


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
