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

from collections.abc import Mapping
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

from gql.core.cost_model_v2 import V2_MODEL
from gql.core.cost_rules import DATABASE_FIELD_WEIGHT, CostLimits, CostModel, Sizing

#: The settings' defaults.
DEFAULT_LIMITS = CostLimits()


class CostLimitExceeded(Exception):
    """The walk stopped: the cost passed `limit` (the total so far is `cost`)."""

    def __init__(self, cost: int) -> None:
        super().__init__(cost)
        self.cost = cost


class CostWalk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        limits: CostLimits,
        model: CostModel,
    ) -> None:
        self.schema = schema
        self.model = model
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
        model = self.model
        weight = 1 + (DATABASE_FIELD_WEIGHT if key in model.database_fields else 0)
        rule = model.rules.get(key)
        length, child_sizing = 1, (sizing if sizing.counted else Sizing())
        if rule is not None:
            n, child_sizing = rule(self._arguments(definition, node), sizing, self.limits)
            if key in model.weight_rules:
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
    limits: CostLimits = DEFAULT_LIMITS,
    model: CostModel = V2_MODEL,
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
    walk = CostWalk(schema, fragments, coerced, limits, model)
    walk.selection_set(operation.selection_set, root, 1, Sizing())
    return walk.total


__all__ = ["CostLimitExceeded", "CostLimits", "CostModel", "query_cost"]
