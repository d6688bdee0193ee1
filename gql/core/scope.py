"""What a question is scoped to: the request's one clock (or a field's `now`) and the
environments, in the forms the loaders' keys hold."""

from __future__ import annotations

from datetime import UTC, datetime

from gql.core.context import ContextInfo


def reference_time(info: ContextInfo, now: datetime | None, inherited: float | None = None) -> float:
    """The request's one clock, unless the field passes its own `now` or its parent was
    asked with one (a release listed by `releases(now: …)` answers at that `now`)."""
    if now is not None:
        return now.timestamp()
    return inherited if inherited is not None else info.context.now


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def env_tuple(environments: list[str] | None) -> tuple[str, ...] | None:
    """Hashable, for a loader key; None (no filter) stays distinct from an empty list."""
    return None if environments is None else tuple(environments)
