"""Optional per-project session quotas (ingest.md section 12).

A fixed window per project: at most `limit` session units (one per `session` item, one per
aggregate bucket) per `window` seconds. Counted in process memory, so with several server
processes each enforces the quota on its own share of the traffic.
"""

from __future__ import annotations

import math

from ingest.errors import IngestError
from ingest.items import dropped_as
from storage.types import WriteBatch

RATE_LIMITED_DETAIL = (
    "Sentry dropped data due to a quota or internal rate limit being reached. This will not "
    "affect your application. See https://docs.sentry.io/product/accounts/quotas/ for more "
    "information."
)


class SessionQuota:
    def __init__(self, limit: int, window: int = 60) -> None:
        self.limit = limit
        self.window = window
        self._used: dict[int, tuple[int, int]] = {}  # project -> (window start, units used)

    def _usage(self, project_id: int, now: float) -> tuple[int, int]:
        start = int(now) - int(now) % self.window
        window_start, used = self._used.get(project_id, (start, 0))
        return (start, 0) if window_start != start else (start, used)

    def retry_after(self, project_id: int, now: float) -> int | None:
        """Whole seconds until the project may send again, or None when no limit is active."""
        start, used = self._usage(project_id, now)
        if used < self.limit:
            return None
        return max(1, math.ceil(start + self.window - now))

    def consume(self, project_id: int, units: int, now: float) -> bool:
        """Take `units` from the quota; False (and nothing taken, the limit now active) when
        they do not fit."""
        start, used = self._usage(project_id, now)
        if used + units > self.limit:
            self._used[project_id] = (start, self.limit)
            return False
        self._used[project_id] = (start, used + units)
        return True


def session_units(batch: WriteBatch) -> int:
    return sum(o.quantity for o in batch.outcomes if o.kind == "accepted")


def rate_limited(batch: WriteBatch) -> WriteBatch:
    """The same envelope with every accepted unit dropped as `rate_limited` instead."""
    return dropped_as(batch, "rate_limited")


def too_many_requests(retry_after: int) -> IngestError:
    return IngestError(
        429,
        RATE_LIMITED_DETAIL,
        headers={
            "Retry-After": str(retry_after),
            "X-Sentry-Rate-Limits": f"{retry_after}:session:project",
        },
    )
