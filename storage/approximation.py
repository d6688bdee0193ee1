"""Which distinct counts of a request were estimates.

A request (a REST call, a GraphQL operation) reads the store many times, from many
resolvers and dataloader batches. Rather than thread a flag through every resolver's
return type, the store notes the approximate kinds of each `AggregateResult` in the
request's collector (a context variable), and the transport reports them once: the REST
header `Relhealth-Approximate`, GraphQL `extensions.approximate`.

Child tasks (dataloader batches) inherit the collector: a context copy shares the set
object, so their notes reach the request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from storage.distinct import RELATIVE_STANDARD_ERROR
from storage.types import Kind

_collector: ContextVar[set[Kind] | None] = ContextVar("relhealth_approximate", default=None)

#: Public names of the kinds, as the APIs report them.
KIND_NAMES: dict[Kind, str] = {kind: kind.name.lower() for kind in Kind}


def note(kinds: Iterable[Kind]) -> None:
    """Record kinds whose counts were estimated in the current request (if collecting)."""
    collected = _collector.get()
    if collected is not None:
        collected.update(kinds)


@contextmanager
def collecting() -> Iterator[set[Kind]]:
    """Collect the approximate kinds of every store read inside the block."""
    kinds: set[Kind] = set()
    token = _collector.set(kinds)
    try:
        yield kinds
    finally:
        _collector.reset(token)


def names(kinds: Iterable[Kind]) -> list[str]:
    """The public names of `kinds`, in the order of `Kind`."""
    return [KIND_NAMES[k] for k in sorted(set(kinds))]


def header_value(kinds: Iterable[Kind]) -> str:
    """`Relhealth-Approximate` header value: the kinds and the relative standard error,
    e.g. `users, crashed_users; rse=0.0078`."""
    return f"{', '.join(names(kinds))}; rse={RELATIVE_STANDARD_ERROR:.4f}"


__all__ = ["KIND_NAMES", "collecting", "header_value", "names", "note"]
