"""GraphQL errors with `extensions.code`, and the masking rule for everything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from graphql import GraphQLError

from resolvers.errors import InvalidQuery


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
