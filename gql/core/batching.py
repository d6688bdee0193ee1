"""The batching rule every grouped loader follows. Each batch makes one resolver call per
distinct set of options (for a page of releases asked the same question: exactly one), so
the number of SQL statements does not grow with the number of releases.

A key carries its target (a `(project, release)` pair, a project id, ...) and the
options of the question; `InvalidQuery` raised for one option group fails only the keys
of that group (the fields turn it into `BAD_USER_INPUT`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from resolvers.errors import InvalidQuery
from storage.types import ProjectRelease

K = TypeVar("K", bound="KeyWithOptions")
V = TypeVar("V")


class KeyWithOptions:
    pair: ProjectRelease

    def target(self) -> Hashable:
        """What the resolver is asked about; the result mapping is keyed by it."""
        return self.pair

    def options(self) -> Hashable:
        raise NotImplementedError


class ProjectKeyWithOptions(KeyWithOptions):
    project_id: int

    def target(self) -> Hashable:
        return self.project_id


def grouped_loader(
    fetch: Callable[[list[Any], Any], Awaitable[Mapping[Any, V]]],
) -> Callable[[Sequence[K]], Awaitable[list[V | BaseException | None]]]:
    """A batch function that groups keys by their options and calls `fetch` once per group
    with the group's distinct targets (and one key of the group, for its options)."""

    async def load(keys: Sequence[K]) -> list[V | BaseException | None]:
        groups: dict[Hashable, list[K]] = defaultdict(list)
        for key in keys:
            groups[key.options()].append(key)
        found: dict[K, V | BaseException | None] = {}
        for members in groups.values():
            targets = list(dict.fromkeys(k.target() for k in members))
            try:
                values = await fetch(targets, members[0])
            except InvalidQuery as exc:
                for k in members:
                    found[k] = exc
                continue
            for k in members:
                found[k] = values.get(k.target())
        return [found[k] for k in keys]

    return load
