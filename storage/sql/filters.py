"""Selecting series and grouping fact rows: the SQL shared by every aggregate read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, not_, or_, select, true

from storage.models import RELEASE_ENV
from storage.types import AggregateQuery, And, Cond, Dimension, Filter, Or


def env_key(environment: str | None) -> str:
    """The non-null form of an environment used in unique keys and seeks."""
    return "" if environment is None else "=" + environment


def expanding(name: str) -> Any:
    return bindparam(name, expanding=True)


_DIMENSION_COLUMNS: dict[Dimension, str] = {
    "project_id": "project_id",
    "release": "release",
    "environment": "environment",
    "release_version": "version",
}


def grouped_select(
    query: AggregateQuery,
    fact: Any,
    aggregates: list[Any],
    extra_group: Iterable[Any] = (),
) -> tuple[Select[Any], int]:
    """SELECT <group keys>, [<bucket>], <aggregates> FROM fact JOIN release_env ... ;
    returns the statement and how many leading key columns each row has.

    The series are selected by `series_id IN (SELECT id FROM release_env WHERE ...)`, so
    the fact table is read by seeking its whole key (granularity, series, bucket range)
    once per matching series instead of scanning every series of the granularity; the
    join only brings the group keys.
    """
    r = RELEASE_ENV
    keys: list[Any] = [r.c[_DIMENSION_COLUMNS[d]] for d in query.group_by]
    if query.interval is not None:
        keys.append((fact.c.bucket - fact.c.bucket % query.interval).label("qbucket"))
    extra = list(extra_group)
    chosen = RELEASE_ENV.alias("chosen")
    series = select(chosen.c.id).where(chosen.c.project_id.in_(sorted(set(query.project_ids))))
    if query.filter is not None:
        series = series.where(compile_filter(query.filter, chosen))
    stmt = (
        select(*keys, *extra, *aggregates)
        .select_from(fact.join(r, r.c.id == fact.c.series_id))
        .where(
            fact.c.granularity == query.granularity,
            fact.c.series_id.in_(series),
            fact.c.bucket >= query.start,
            fact.c.bucket < query.end,
        )
    )
    group = [*keys, *extra]
    if group:
        stmt = stmt.group_by(*group)
    return stmt, len(keys)


def compile_filter(flt: Filter, table: Any = None) -> ColumnElement[bool]:
    """The filter as a condition on `table` (default: the `release_env` table)."""
    r = RELEASE_ENV if table is None else table
    if isinstance(flt, And):
        return and_(true(), *(compile_filter(t, r) for t in flt.terms))
    if isinstance(flt, Or):
        return or_(false(), *(compile_filter(t, r) for t in flt.terms))
    assert isinstance(flt, Cond)
    if flt.dimension == "environment":
        # env_key is never NULL, so IN / NOT IN need no NULL special cases, and naming the
        # environments lets SQLite seek on the whole (project, release, env_key) key.
        column: Any = r.c.env_key
        values: list[Any] = [env_key(v if v is None else str(v)) for v in flt.values]
    elif flt.dimension in ("release", "release_version"):
        column = r.c[_DIMENSION_COLUMNS[flt.dimension]]
        values = [str(v) for v in flt.values if v is not None]
    else:
        column, values = r.c.project_id, [int(v) for v in flt.values if v is not None]
    if not values:
        return true() if flt.negate else false()
    cond: ColumnElement[bool] = column.in_(sorted(set(values)))
    return not_(cond) if flt.negate else cond
