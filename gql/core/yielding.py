"""Execution that yields to the event loop: every list field is resolved as an awaitable
that first lets other tasks run.

graphql-core completes a result synchronously wherever nothing is awaitable, so a large
answer (hundreds of releases, each with long series) would hold the event loop for its
whole completion, and ingest, which shares the loop, would wait. With one yield per list
field the loop is held at most for the completion of one list at a time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo, get_nullable_type, is_list_type
from strawberry.extensions import SchemaExtension
from strawberry.utils.await_maybe import AwaitableOrValue


class YieldingLists(SchemaExtension):
    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo[Any],
        *args: Any,
        **kwargs: Any,
    ) -> AwaitableOrValue[object]:
        if not is_list_type(get_nullable_type(info.return_type)):
            result: object = _next(root, info, *args, **kwargs)
            return result

        async def after_a_yield() -> object:
            await asyncio.sleep(0)
            value = _next(root, info, *args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
            return value

        return after_a_yield()
