"""Selecting series and grouping fact rows: the SQL shared by every aggregate read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from storage.models import DIM_VALUE, RELEASE_ENV
from storage.sql.dimensions import COLUMNS as CLIENT_COLUMNS
from storage.sql.dimensions import client_condition, query_family
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


# Built once: an alias copies its table's columns, which cost more than the rest of a
# statement's construction when made per query.
_DIM = DIM_VALUE.alias("dim")
_CHOSEN = RELEASE_ENV.alias("chosen")
_CHOSEN_DIM = DIM_VALUE.alias("chosen_dim")


def _client_key(dim: Any, dimension: Dimension) -> Any:
    column = dim.c[CLIENT_COLUMNS[dimension][1]]
    # A value without a major stores `""` (a unique key needs a value): read back as None.
    return func.nullif(column, "") if column.name == "major" else column


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
    keys = _group_keys(query)
    if query.interval is not None:
        keys.append((fact.c.bucket - fact.c.bucket % query.interval).label("qbucket"))
    extra = list(extra_group)
    source = fact.join(r, r.c.id == fact.c.series_id)
    if any(g in CLIENT_COLUMNS for g in query.group_by):
        source = source.join(_DIM, _DIM.c.id == r.c.client)
    stmt = (
        select(*keys, *extra, *aggregates)
        .select_from(source)
        .where(
            fact.c.granularity == query.granularity,
            fact.c.series_id.in_(_chosen_series(query)),
            fact.c.bucket >= query.start,
            fact.c.bucket < query.end,
        )
    )
    group = [*keys, *extra]
    if group:
        stmt = stmt.group_by(*group)
    return stmt, len(keys)


def groups_having(query: AggregateQuery, fact: Any, condition: ColumnElement[bool]) -> Select[Any]:
    """SELECT DISTINCT <group keys> of the series with at least one fact row in the range
    meeting `condition`. `EXISTS` stops at the first such row of each series, so no fact
    row beyond it is read. Totals only (`query.interval` is None); without group keys the
    statement yields one row when any series has such a row."""
    if query.interval is not None:
        raise ValueError("groups_having takes no interval")
    r = RELEASE_ENV
    keys = _group_keys(query) or [literal_column("1")]
    source: Any = r
    if any(g in CLIENT_COLUMNS for g in query.group_by):
        source = r.join(_DIM, _DIM.c.id == r.c.client)
    has_row = exists().where(
        fact.c.granularity == query.granularity,
        fact.c.series_id == r.c.id,
        fact.c.bucket >= query.start,
        fact.c.bucket < query.end,
        condition,
    )
    return select(*keys).select_from(source).where(r.c.id.in_(_chosen_series(query)), has_row).distinct()


def _group_keys(query: AggregateQuery) -> list[Any]:
    """The columns of the grouped dimensions, in `query.group_by` order."""
    r = RELEASE_ENV
    return [
        _client_key(_DIM, g) if g in CLIENT_COLUMNS else r.c[_DIMENSION_COLUMNS[g]] for g in query.group_by
    ]


def _chosen_series(query: AggregateQuery) -> Select[Any]:
    """The ids of the series the query reads. Client dimensions (storage/sql/dimensions.py):
    base series only (`client = 0`), or the client series of the query's one family."""
    family = query_family(query)
    chosen = _CHOSEN
    series = select(chosen.c.id).where(chosen.c.project_id.in_(sorted(set(query.project_ids))))
    chosen_dim = None
    if family is None:
        series = series.where(chosen.c.client == 0)
    else:
        chosen_dim = _CHOSEN_DIM
        series = series.join(chosen_dim, chosen_dim.c.id == chosen.c.client).where(
            chosen_dim.c.family == family
        )
    if query.filter is not None:
        series = series.where(compile_filter(query.filter, chosen, chosen_dim))
    return series


def compile_filter(flt: Filter, table: Any = None, dim_table: Any = None) -> ColumnElement[bool]:
    """The filter as a condition on `table` (default: the `release_env` table) and, for
    client dimensions, on `dim_table` (the `dim_value` row of the series' client)."""
    r = RELEASE_ENV if table is None else table
    if isinstance(flt, And):
        return and_(true(), *(compile_filter(t, r, dim_table) for t in flt.terms))
    if isinstance(flt, Or):
        return or_(false(), *(compile_filter(t, r, dim_table) for t in flt.terms))
    assert isinstance(flt, Cond)
    if flt.dimension in CLIENT_COLUMNS:
        if dim_table is None:
            raise ValueError(f"{flt.dimension} needs the client series of its family")
        return client_condition(flt, dim_table)
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
