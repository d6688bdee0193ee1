"""Ordering of the underlying groups (`release-health.md` 8.11) and the `orderBy` checks
(8.13 step 10)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from storage.types import GroupKey

from . import errors
from .errors import SessionsQueryError
from .fields import COUNT_UNIQUE_USER, STATUSES, SUM_SESSION

T = TypeVar("T")
Number = int | float


@dataclass(frozen=True, slots=True)
class OrderBy:
    """`field` orders the underlying groups; `explicit` when it came from `orderBy`.

    `status` is set when the ordering quantity is one status count rather than the field's
    plain value: `sum(session)` with a status filter without `healthy`/`errored` orders by
    the first selected status's count (enum order).
    """

    field: str
    descending: bool
    explicit: bool
    status: str | None = None


def primary_field(fields: Sequence[str]) -> str:
    """The first field, except that `sum(session)` wins whenever it is requested."""
    return SUM_SESSION if SUM_SESSION in fields else fields[0]


def ordering_status(field: str, status_filter: frozenset[str] | None) -> str | None:
    if field != SUM_SESSION or status_filter is None:
        return None
    if status_filter & {"healthy", "errored"}:
        return None  # ordered by all started sessions
    return next((status for status in STATUSES if status in status_filter), None)


def is_multi_quantity(field: str, status_filter: frozenset[str] | None) -> bool:
    """Whether a status filter maps a field to more than one underlying quantity: any
    multi-status filter, or one containing `healthy` or `errored` (they add a hidden "all
    sessions" quantity). Only the status-dependent fields are affected."""
    if field not in (SUM_SESSION, COUNT_UNIQUE_USER) or status_filter is None:
        return False
    return len(status_filter) > 1 or bool(status_filter & {"healthy", "errored"})


def resolve_order_by(
    raw: Sequence[str],
    requested: Sequence[str],
    active: Sequence[str],
    group_by_status: bool,
    status_filter: frozenset[str] | None,
) -> OrderBy:
    """The checks of 8.13 step 10, in order, then the ordering to use. `requested` are the
    requested fields, `active` those left after the status filter removed some."""
    if not raw:
        field = primary_field(active)
        return OrderBy(field, True, False, ordering_status(field, status_filter))
    if len(raw) > 1:
        raise SessionsQueryError(errors.ORDER_BY_MULTIPLE)
    if group_by_status:
        raise SessionsQueryError(errors.ORDER_BY_STATUS_GROUP)
    value = raw[0]
    descending = value.startswith("-")
    field = value[1:] if descending else value
    if field not in requested:
        raise SessionsQueryError(errors.ORDER_BY_NOT_A_FIELD)
    if is_multi_quantity(field, status_filter) or field not in active:
        raise SessionsQueryError(errors.cannot_order_by(field))
    return OrderBy(field, descending, True, ordering_status(field, status_filter))


def group_key_order(key: GroupKey) -> tuple[int | str, ...]:
    """Tie-break: (project id, release, environment, release version, then the client
    dimensions, each with null first), ascending."""
    return (
        0 if key.project_id is None else 1,
        key.project_id or 0,
        0 if key.release is None else 1,
        key.release or "",
        0 if key.environment is None else 1,
        key.environment or "",
        key.release_version or "",
        *_client_order(key),
    )


def _client_order(key: GroupKey) -> tuple[int | str, ...]:
    values = (key.sdk_name, key.os_name, key.os_major, key.browser_name, key.browser_major)
    return tuple(part for v in values for part in ((0, "") if v is None else (1, v)))


def sort_groups(
    items: Sequence[T],
    value: Callable[[T], Number | None],
    key: Callable[[T], GroupKey],
    descending: bool,
) -> list[T]:
    """Order by `value` (descending or ascending), nulls after every non-null value in both
    directions, ties broken by `group_key_order` ascending."""
    by_key = sorted(items, key=lambda item: group_key_order(key(item)))
    present = [item for item in by_key if value(item) is not None]
    missing = [item for item in by_key if value(item) is None]

    def quantity(item: T) -> Number:
        result = value(item)
        assert result is not None
        return result

    present.sort(key=quantity, reverse=descending)
    return present + missing
