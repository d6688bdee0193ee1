"""The cost model knows API v2: page sizes bound the lists below a connection, and a
series is as long as the health scope's window divided by its interval."""

from __future__ import annotations

from graphql import parse

from gql.core.cost import CostLimits, query_cost
from gql.schema import build_schema

SCHEMA = build_schema()._schema
DB = 1 + 5  # a field that queries the database weighs 1 + DATABASE_FIELD_WEIGHT


def _cost(query: str, **variables: object) -> int:
    return query_cost(SCHEMA, parse(query), variables=variables, limits=CostLimits())


def test_a_series_is_as_long_as_the_window_over_the_interval():
    q = """query($scope: HealthScope!) { release(project: "1", version: "x") { health(scope: $scope) {
             series(interval: HOUR) { total } } } }"""
    day = {"window": {"range": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}}}
    # release (DB) + health + series (DB) + 25 hourly values (24 h and the bucket of `end`)
    assert _cost(q, scope=day) == DB + 1 + DB + 25
    week = {"window": {"period": "LAST_7_DAYS"}}
    assert _cost(q, scope=week) == DB + 1 + DB + (7 * 24 + 1)


def test_a_page_multiplies_what_is_below_it():
    q = """{ organization(slug: "a") { health(scope: {window: {period: LAST_7_DAYS}}) {
             releases(first: 10) { nodes { sessions series(interval: DAY) { total } }
                                   edges { node { sessions } } } } } }"""
    page = 10
    nodes = page * (1 + DB + DB + 8)  # each node, its sessions, its series and 8 daily values
    edges = page * (1 + 1 + DB)  # each edge, its node, the node's sessions
    assert _cost(q) == 1 + 1 + DB + nodes + edges
