"""Errors the release-health functions raise for bad input; the API layers turn them
into HTTP 400 `{"detail": ...}` or GraphQL errors with code BAD_USER_INPUT."""

from __future__ import annotations


class InvalidQuery(ValueError):
    """The question cannot be answered as asked; `message` is meant for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
