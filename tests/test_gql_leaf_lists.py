"""Lists of scalars complete in one loop (`gql/core/execution.py`) with exactly graphql-core's
answers, errors and error paths."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from gql.core.execution import ExecutionContext


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def _bad_int() -> list[Any]:
    return [1, "not a number", 3]


@strawberry.type
class Query:
    @strawberry.field
    def ints(self) -> list[int]:
        return [1, 2, 3]

    @strawberry.field
    def floats(self) -> tuple[float, ...]:  # a tuple: the same path
        return (0.5, 2.0)

    @strawberry.field
    def maybe(self) -> list[int | None]:
        return [1, None, 3]

    @strawberry.field
    def strict(self) -> list[int] | None:
        return [1, None, 3]  # type: ignore[list-item]

    @strawberry.field
    def refused(self) -> list[int] | None:
        return _bad_int()

    @strawberry.field
    def colours(self) -> list[Colour]:
        return [Colour.RED, Colour.BLUE]

    @strawberry.field
    async def later(self) -> list[int]:
        return [4, 5]


def _run(execution_context_class: Any) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class)
    return schema.execute_sync("{ ints floats maybe strict refused colours }")


def test_leaf_lists_answer_exactly_as_graphql_core() -> None:
    ours, theirs = _run(ExecutionContext), _run(None)
    assert (
        ours.data
        == theirs.data
        == {
            "ints": [1, 2, 3],
            "floats": [0.5, 2.0],
            "maybe": [1, None, 3],
            "strict": None,
            "refused": None,
            "colours": ["RED", "BLUE"],
        }
    )
    assert [(e.path, e.message) for e in ours.errors or []] == [
        (e.path, e.message) for e in theirs.errors or []
    ]
    assert {tuple(e.path or ()) for e in ours.errors or []} == {("strict", 1), ("refused", 1)}


async def test_async_resolvers_still_complete() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=ExecutionContext)
    result = await schema.execute("{ later ints }")
    assert result.errors is None and result.data == {"later": [4, 5], "ints": [1, 2, 3]}


def test_scalar_items_skip_the_per_item_completion(monkeypatch: Any) -> None:
    calls: list[object] = []
    original = ExecutionContext.complete_list_item_value

    def counting(self: Any, item: Any, *args: Any) -> Any:
        calls.append(item)
        return original(self, item, *args)

    monkeypatch.setattr(ExecutionContext, "complete_list_item_value", counting)
    schema = strawberry.Schema(query=Query, execution_context_class=ExecutionContext)
    assert schema.execute_sync("{ ints colours }").data == {"ints": [1, 2, 3], "colours": ["RED", "BLUE"]}
    assert calls == []
    # A nullable list's null items are completed in the same loop.
    assert schema.execute_sync("{ maybe }").data == {"maybe": [1, None, 3]}
    assert calls == []
    # A null in a non-null list takes graphql-core's path, item by item, for its error.
    assert schema.execute_sync("{ strict }").data == {"strict": None}
    assert calls == [1, None]
