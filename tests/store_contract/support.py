"""Building increments and queries for the contract cases."""

from __future__ import annotations

from typing import Any

from storage.protocol import Store
from storage.types import (
    HOUR,
    NO_DIMENSIONS,
    AggregateQuery,
    ClientDimensions,
    Dimension,
    Filter,
    Quantity,
    SessionIncrement,
    WriteBatch,
)
from tests.store_contract.conftest import WEB

#: 2021-01-14T00:00:00Z: a day, hour and minute boundary.
T0 = 1610582400
ALL = frozenset(Quantity)


def inc(
    started: float,
    *,
    project: int = WEB,
    release: str = "1.0",
    env: str | None = "production",
    started_count: int = 0,
    crashed: int = 0,
    abnormal: int = 0,
    unhandled: int = 0,
    errored_preaggr: int = 0,
    sid: str | None = None,
    user: str | None = None,
    tags: int = 0,
    duration: float | None = None,
    dims: ClientDimensions = NO_DIMENSIONS,
) -> SessionIncrement:
    return SessionIncrement(
        project_id=project,
        release=release,
        environment=env,
        started=started,
        started_count=started_count,
        crashed=crashed,
        abnormal=abnormal,
        unhandled=unhandled,
        errored_preaggr=errored_preaggr,
        error_sid=sid,
        user=user,
        user_tags=tags,
        duration=duration,
        dimensions=dims,
    )


def sid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def query(
    start: int,
    end: int,
    *,
    granularity: int = HOUR,
    quantities: frozenset[Quantity] | set[Quantity] = ALL,
    group_by: tuple[Dimension, ...] = (),
    filter: Filter | None = None,
    interval: int | None = None,
    projects: tuple[int, ...] = (1, 2, 3),
) -> AggregateQuery:
    return AggregateQuery(
        project_ids=projects,
        start=start,
        end=end,
        granularity=granularity,
        quantities=frozenset(quantities),
        group_by=group_by,
        filter=filter,
        interval=interval,
    )


async def write(store: Store, *increments: SessionIncrement, **kwargs: Any) -> None:
    await store.apply([WriteBatch(list(increments))], **kwargs)
