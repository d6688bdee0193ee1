"""Completing lists of scalars in one loop.

graphql-core completes every list item on its own (a path entry, an awaitable check, a
leaf completion per item), which is most of the cost of series answers: a release's
90-day stats are hundreds of numbers. A list whose items are scalars or enums is completed
here by coercing each item in one loop; anything unusual (a null item, an awaitable, a
value the scalar refuses, `@stream`) goes back to graphql-core's own path, so errors and
their paths are exactly graphql-core's.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
    Undefined,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_list_value(  # type: ignore[override]
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: AsyncIterable[Any] | Iterable[Any],
        position_context: Any,
    ) -> Any:
        completed = _leaf_items(return_type, result)
        if completed is not None and not self.get_stream_usage(field_details_list, path):
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )


def _leaf_items(return_type: GraphQLList[GraphQLOutputType], result: object) -> list[Any] | None:
    """The coerced items of a list of scalars or enums, or None to take the general path."""
    item_type = return_type.of_type
    leaf = item_type.of_type if is_non_null_type(item_type) else item_type
    non_null = leaf is not item_type
    if not is_leaf_type(leaf) or not isinstance(result, list | tuple):
        return None
    coerce = leaf.coerce_output_value  # type: ignore[union-attr]
    completed: list[Any] = []
    append = completed.append
    try:
        for item in result:
            if item is None:
                # A null item of a nullable list is just null (durations of an empty
                # bucket); of a non-null list, graphql-core reports the error.
                if non_null:
                    return None
                append(None)
                continue
            value = coerce(item)
            if value is None or value is Undefined:
                return None
            append(value)
    except Exception:  # graphql-core reports it, with the item's path
        return None
    return completed
