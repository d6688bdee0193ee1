"""The execution extension that reports estimated distinct counts in
`extensions.approximate` (see `storage.approximation`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import SchemaExtension

from storage import approximation
from storage.distinct import RELATIVE_STANDARD_ERROR
from storage.types import Kind


class ApproximateCounts(SchemaExtension):
    """Collects the approximate kinds of every store read of the operation; the answer's
    `extensions.approximate` is `{"kinds": [...], "relativeStandardError": ...}` when any
    count was estimated, and absent when every number is exact."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: set[Kind] = set()

    def on_execute(self) -> Iterator[None]:
        with approximation.collecting() as kinds:
            yield
        self.kinds = kinds

    def get_results(self) -> dict[str, Any]:
        if not self.kinds:
            return {}
        return {
            "approximate": {
                "kinds": approximation.names(self.kinds),
                "relativeStandardError": RELATIVE_STANDARD_ERROR,
            }
        }
