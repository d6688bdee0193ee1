"""The schema document relhealth publishes (`relhealth export-schema`, `schema.graphql`).

Strawberry prints a Federation v2 subgraph SDL: it applies `@link` and `@key` but leaves
their definitions out, because a Federation router knows them from the `@link` URL. Every
other tool (graphql-core and graphql-js `buildSchema`, code generators, linters) rejects
such a document ("Unknown directive @link"). The published document therefore also
defines every directive the schema carries beyond GraphQL's own, and the types their
arguments use, exactly as the running schema holds them. It stays a valid subgraph SDL:
Apollo's composition accepts definitions that match the Federation spec (the test
`tests/test_schema_sdl.py` composes it). `_service { sdl }` keeps Strawberry's printing,
the form routers read.
"""

from __future__ import annotations

from collections.abc import Iterator

import strawberry
from graphql import (
    DirectiveDefinitionNode,
    GraphQLDirective,
    GraphQLNamedType,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    get_named_type,
    is_specified_directive,
    is_specified_scalar_type,
    parse,
    print_directive,
    print_type,
)

_HEADING = (
    "# Definitions of the Apollo Federation v2 directives and types this subgraph uses,\n"
    "# so that the document loads in any GraphQL tool, not only in a Federation router."
)


def print_sdl(schema: strawberry.Schema) -> str:
    """The complete SDL of `schema`: Strawberry's printing plus the definitions it omits,
    placed after the `schema` block."""
    printed = schema.as_str()
    document = parse(printed, no_location=False)
    defined = {
        node.name.value
        for node in document.definitions
        if isinstance(node, DirectiveDefinitionNode | TypeDefinitionNode)
    }
    missing = list(_omitted_definitions(schema, defined))
    schema_node = next((n for n in document.definitions if isinstance(n, SchemaDefinitionNode)), None)
    if schema_node is not None and schema_node.loc is not None:
        # Strawberry prints directive definitions (`@oneOf`) before the schema block; they
        # move after it, so that Federation's `@link` stays the document's header.
        begin, at = schema_node.loc.start, schema_node.loc.end
        before = [
            printed[n.loc.start : n.loc.end] for n in document.definitions if n.loc and n.loc.end <= begin
        ]
        printed = printed[begin:]
        at -= begin
        after = "\n\n".join(before)
    else:
        at, after = 0, ""
    if not missing:
        head, tail = printed[:at], printed[at:].lstrip("\n")
        return (f"{head}\n\n{after}\n\n{tail}" if after else printed) + "\n"
    block = "\n\n".join([_HEADING + "\n" + missing[0], *missing[1:]])
    if after:
        block = f"{after}\n\n{block}"
    head, tail = printed[:at], printed[at:].lstrip("\n")
    return (f"{head}\n\n{block}\n\n{tail}" if head else f"{block}\n\n{tail}") + "\n"


def _omitted_definitions(schema: strawberry.Schema, defined: set[str]) -> Iterator[str]:
    """Printed definitions of the non-standard directives absent from `defined`, then of
    the named types their arguments use (recursively, for input objects) that are absent
    too; each in the running schema's own form, so introspection agrees with the file."""
    directives: list[GraphQLDirective] = [
        d for d in schema._schema.directives if not is_specified_directive(d) and d.name not in defined
    ]
    types: dict[str, GraphQLNamedType] = {}
    stack = [get_named_type(arg.type) for d in directives for arg in d.args.values()]
    while stack:
        named = stack.pop()
        if named.name in defined or named.name in types or is_specified_scalar_type(named):
            continue
        types[named.name] = named
        stack.extend(get_named_type(f.type) for f in getattr(named, "fields", {}).values())
    for directive in directives:
        yield print_directive(directive)
    for name in sorted(types):
        yield print_type(types[name])


__all__ = ["print_sdl"]
