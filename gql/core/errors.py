"""GraphQL errors with `extensions.code`, and the masking rule for everything else."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from graphql import GraphQLError

from resolvers.errors import InvalidQuery

log = logging.getLogger("relhealth.graphql")


class CodedError(Exception):
    """An expected error: its message reaches the client with `extensions.code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = {"code": self.code}


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"


class Forbidden(CodedError):
    code = "FORBIDDEN"


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions only: syntax and validation errors (no original error)
    and our coded errors keep their messages."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, CodedError | GraphQLError)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a resolver's `InvalidQuery` into `BadUserInput` with the same message."""
    try:
        yield
    except InvalidQuery as exc:
        raise BadUserInput(exc.message) from None


def log_errors(errors: Sequence[GraphQLError]) -> None:
    """Unexpected errors with their traceback (they are bugs); the client's own mistakes
    (syntax, validation, coded errors) as one line each, as Django logs a 4xx."""
    for error in errors:
        if should_mask(error):
            log.error("%s", error.message, exc_info=error.original_error)
        else:
            log.warning("GraphQL %s: %s", _code(error), _one_line(error.message))


def _code(error: GraphQLError) -> str:
    code = (error.extensions or {}).get("code")
    return str(code) if code else "GRAPHQL_VALIDATION_FAILED"


def _one_line(message: str, limit: int = 300) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
