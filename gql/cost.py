"""The static cost of a GraphQL operation, computed from the document before execution.

Cost approximates the work and the size of the answer: every field selected costs its
weight once per value it produces. A list multiplies the cost of everything below it by
its length, read from the arguments (`first`, the buckets of a series from start / end /
interval or from a stats period, the length of an input list) or, when no argument bounds
it, an assumed length. Aliases are separate fields; fragments are expanded where spread.

The walk accumulates top-down and stops as soon as the total passes the limit, so a
document whose fragments expand exponentially costs at most `limit` steps to refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import DocumentNode

from resolvers.breakdown import release_stats_range
from resolvers.errors import InvalidQuery
from resolvers.rollup import parse_rollup
from resolvers.timewindow import InvalidStatsPeriod, parse_stats_period

#: Extra weight of fields that query the database (once per value, like every weight).
DATABASE_FIELD_WEIGHT = 5
#: Length of the release-stats series when its arguments cannot be read (the field will
#: fail; the bound only has to be safe).
FALLBACK_SERIES = 1
#: Checkpoints of `Release.crashFreeBreakdown` (1, 2, 7, 14 and 30 days).
BREAKDOWN_CHECKPOINTS = 5

DATABASE_FIELDS = frozenset(
    {
        "Query.project",
        "Query.releases",
        "Query.hasHealthData",
        "Query.releasesHaveHealthData",
        "Query.oldestHealthData",
        "Query.changedReleaseAdoptions",
        "Query.sessionsPerProject",
        "Query.sessions",
        "Release.project",
        "Release.health",
        "Release.adoption",
        "Release.adoptionStage",
        "Release.sessionTimeBounds",
        "Release.crashFreeBreakdown",
        "Release.stats",
        "SessionStats.adoption",
        "Project.releases",
        "Project.ingestOutcomes",
        "Project.crashFreeRates",
        "Project.sessionsCount",
        "Project.releasesCount",
        "Organization.projects",
        "Organization.environments",
    }
)


@dataclass(frozen=True, slots=True)
class CostLimits:
    """The limits the cost is checked against (from the settings)."""

    max_cost: int = 25_000
    assumed_list_size: int = 50
    #: Data points of one field of the sessions query (the sessions budget).
    max_data_points: int = 10_000


class CostLimitExceeded(Exception):
    """The walk stopped: the cost passed `limit` (the total so far is `cost`)."""

    def __init__(self, cost: int) -> None:
        super().__init__(cost)
        self.cost = cost


@dataclass(frozen=True, slots=True)
class Sizing:
    """What a field tells the lists below it: the page size of a connection, the length of
    a series."""

    page: int = 0
    series: int = 0
    #: Below a field whose weight already counts its lists (the sessions query).
    counted: bool = False


#: `(arguments, parent's sizing, limits)` -> (weight multiplier, the field's sizing).
SizeRule = Callable[[Mapping[str, Any], Sizing, CostLimits], tuple[int, Sizing]]


def _connection(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return 1, Sizing(page=max(0, int(args.get("first", 25))))


def _page(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return parent.page, parent


def _passing(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return 1, parent


def _series(_args: Mapping[str, Any], parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    return parent.series, parent


def _release_stats(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    try:
        rollup = parse_rollup(str(args["interval"]))
        start, end = args["start"], args["end"]
        assert isinstance(start, datetime) and isinstance(end, datetime)
        buckets = release_stats_range(start.timestamp(), end.timestamp(), rollup)[2]
    except (InvalidQuery, KeyError, AssertionError, ValueError, OverflowError):
        buckets = FALLBACK_SERIES
    return 1, Sizing(series=max(0, buckets))


def _health(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
    period = args.get("healthStatsPeriod")
    buckets = 0
    if period is not None:
        try:
            buckets = parse_stats_period(str(period)).buckets
        except InvalidStatsPeriod:
            buckets = FALLBACK_SERIES
    return 1, Sizing(series=buckets)


def _length_of(name: str) -> SizeRule:
    def rule(args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
        value = args.get(name)
        return (len(value) if isinstance(value, list) else 0), Sizing()

    return rule


def _constant(n: int) -> SizeRule:
    def rule(_args: Mapping[str, Any], _parent: Sizing, _limits: CostLimits) -> tuple[int, Sizing]:
        return n, Sizing()

    return rule


def _sessions(_args: Mapping[str, Any], _parent: Sizing, limits: CostLimits) -> tuple[int, Sizing]:
    # The sessions query enforces its own data-point budget (groups x intervals, as the
    # REST endpoint does): it costs that budget, and its groups and series are not
    # multiplied again.
    return limits.max_data_points, Sizing(counted=True)


#: The size of every list field whose length an argument or its parent bounds, and the
#: fields that tell their children (connections, series). Other lists get
#: `assumed_list_size`.
RULES: dict[str, SizeRule] = {
    "Query.releases": _connection,
    "Project.releases": _connection,
    "ReleaseConnection.nodes": _page,
    "ReleaseConnection.edges": _page,
    "Release.stats": _release_stats,
    "Release.health": _health,
    "SessionStats.series": _passing,
    **{
        f"ReleaseStats.{name}": _series
        for name in (
            "intervals",
            "total",
            "healthy",
            "errored",
            "crashed",
            "abnormal",
            "unhandled",
            "durationP50",
            "durationP90",
        )
    },
    "TimeSeries.intervals": _series,
    "TimeSeries.values": _series,
    "Release.crashFreeBreakdown": _constant(BREAKDOWN_CHECKPOINTS),
    "Query.oldestHealthData": _length_of("releases"),
    "Query.releasesHaveHealthData": _length_of("releases"),
    "Query.sessionsPerProject": _length_of("projectIds"),
    "Query.sessions": _sessions,
    "Query._entities": _length_of("representations"),
}

# Rules whose number is a weight (the field's own cost), not a list length.
_WEIGHT_RULES = frozenset({"Query.sessions"})


class CostWalk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        limits: CostLimits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.total = 0

    def add(self, points: int) -> None:
        self.total += points
        if self.total > self.limits.max_cost:
            raise CostLimitExceeded(self.total)

    def selection_set(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        scale: int,
        sizing: Sizing,
        spreading: frozenset[str] = frozenset(),
    ) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.field(selection, parent, scale, sizing)
            elif isinstance(selection, InlineFragmentNode):
                target = self._condition(selection.type_condition, parent)
                self.selection_set(selection.selection_set, target, scale, sizing, spreading)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spreading:
                    continue  # validation refuses both; never loop
                target = self._condition(fragment.type_condition, parent)
                self.selection_set(fragment.selection_set, target, scale, sizing, spreading | {name})

    def _condition(self, condition: Any, parent: GraphQLNamedType) -> GraphQLNamedType:
        if condition is None:
            return parent
        found = self.schema.get_type(condition.name.value)
        return found if found is not None else parent

    def field(self, node: FieldNode, parent: GraphQLNamedType, scale: int, sizing: Sizing) -> None:
        name = node.name.value
        if name.startswith("__"):
            # Introspection: bounded by the schema's own size and the depth limit.
            self.add(scale)
            return
        definition = _field(parent, name)
        if definition is None:
            self.add(scale)
            return
        key = f"{parent.name}.{name}"
        weight = 1 + (DATABASE_FIELD_WEIGHT if key in DATABASE_FIELDS else 0)
        rule = RULES.get(key)
        length, child_sizing = 1, (sizing if sizing.counted else Sizing())
        if rule is not None:
            n, child_sizing = rule(self._arguments(definition, node), sizing, self.limits)
            if key in _WEIGHT_RULES:
                weight += n
            else:
                length = n
        elif is_list_type(get_nullable_type(definition.type)) and not sizing.counted:
            length = self.limits.assumed_list_size
        if length <= 0:
            self.add(scale * weight)  # nothing below is resolved
            return
        inner = scale * length
        self.add(inner * weight)
        self.selection_set(node.selection_set, get_named_type(definition.type), inner, child_sizing)

    def _arguments(self, definition: GraphQLField, node: FieldNode) -> dict[str, Any]:
        try:
            return get_argument_values(definition, node, self.variables)
        except GraphQLError:
            return {}  # execution refuses the field itself


def _field(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields = getattr(parent, "fields", None)
    if not isinstance(fields, Mapping):
        return None
    found = fields.get(name)
    return found if isinstance(found, GraphQLField) else None


def operation_of(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    limits: CostLimits = CostLimits(),
) -> int:
    """The cost of the operation; `CostLimitExceeded` as soon as it passes
    `limits.max_cost`. An operation that cannot execute (unknown operation, invalid
    variables) costs 0: execution refuses it before any resolver runs."""
    operation = operation_of(document, operation_name)
    if operation is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return 0
    root = schema.get_root_type(operation.operation)
    if not isinstance(root, GraphQLObjectType):
        return 0
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    walk = CostWalk(schema, fragments, coerced, limits)
    walk.selection_set(operation.selection_set, root, 1, Sizing())
    return walk.total


__all__ = ["CostLimitExceeded", "CostLimits", "query_cost"]
