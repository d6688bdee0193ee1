"""The federation subgraph schema class: entity representations are checked before they
reach `resolve_reference`, and errors are logged by kind (`gql.core.errors.log_errors`).

This module deliberately has no `from __future__ import annotations`: Strawberry reads
the annotations of `entities_resolver` as objects to build the `_entities` field.
"""

from collections.abc import Mapping
from typing import Any, Final

import strawberry
from graphql import GraphQLError
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext, Info
from strawberry.types.scalar import ScalarDefinition, scalar

from gql.core.errors import BadUserInput, log_errors

#: The `@key`s of each entity type (each a set of fields), as a router sends them in a
#: representation: API v2 keys a project by its global `id` or its numeric `projectId`,
#: a release by `id` or by `projectId` and `version` (v1's keys: `id`, and `projectId
#: version`; a v1 project's `id` is its numeric id, which v2's `id` key accepts too).
ENTITY_KEYS: Final[Mapping[str, tuple[frozenset[str], ...]]] = {
    "Project": (frozenset({"id"}), frozenset({"projectId"})),
    "Release": (frozenset({"id"}), frozenset({"projectId", "version"})),
}


def representation_problem(representation: object) -> str | None:
    """Why a `_entities` representation cannot be resolved, or None when it can."""
    if not isinstance(representation, dict):
        return "An entity representation must be an object"
    type_name = representation.get("__typename")
    if not isinstance(type_name, str) or type_name not in ENTITY_KEYS:
        names = " or ".join(sorted(ENTITY_KEYS))
        return f"An entity representation needs __typename {names}"
    keys = ENTITY_KEYS[type_name]
    given = set(representation) - {"__typename"}
    if given not in keys:
        spelled = " or ".join(", ".join(sorted(k)) for k in keys)
        return f"A {type_name} representation has exactly the fields {spelled}"
    if not all(
        isinstance(representation[k], str | int) and not isinstance(representation[k], bool) for k in given
    ):
        return f"The key fields of a {type_name} representation are strings"
    return None


#: `@key(fields:)`'s type under the name Federation v2 gives it when `@link` imports only
#: `@key` (Strawberry says `_FieldSet`, Federation 1's name). Apollo's composition refuses
#: a subgraph document that defines `@key` with any other argument type, and the
#: published SDL defines it (`gql.sdl`).
FIELD_SET: Final[ScalarDefinition] = scalar(
    name="federation__FieldSet",
    serialize=lambda value: value,
    parse_value=str,
    print_definition=False,
)


class SubgraphSchema(strawberry.federation.Schema):
    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        results: list[Any] = []
        for representation in representations:
            problem = representation_problem(representation)
            if problem is not None:
                results.append(BadUserInput(problem))
            else:
                # the base resolver pops `__typename`: give it a copy
                results.extend(super().entities_resolver(info, [dict(representation)]))  # type: ignore[call-overload]
        return results

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)
