"""The one exception the ingest layer raises for a request it rejects as a whole."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """A rejection of the whole request, carrying the HTTP answer (`ingest.md` 6.1).

    `detail` is the contract with clients; `causes` is informational. The transport turns
    this into a JSON response with `status`, `body()` and `headers`.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        causes: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.causes = causes
        self.headers: dict[str, str] = dict(headers) if headers else {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.causes is not None:
            body["causes"] = list(self.causes)
        return body

    def __repr__(self) -> str:
        return f"IngestError({self.status}, {self.detail!r}, causes={self.causes!r})"


INVALID_ENVELOPE = "invalid event envelope"


def invalid_envelope(*causes: str) -> IngestError:
    """400 for anything wrong with the framing or the envelope header."""
    return IngestError(400, INVALID_ENVELOPE, list(causes))
