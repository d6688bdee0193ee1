"""API v2 is self-documenting: every type, field, argument and enum value the schema
serves has a description (what it is, its unit, what null means)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from gql.schema import build_schema

#: Federation's own machinery, described by its specification, not by this API.
FEDERATION = ("_", "link__", "federation__")


def undescribed(schema: GraphQLSchema) -> list[str]:
    missing: list[str] = []
    for name, t in sorted(schema.type_map.items()):
        if (
            name.startswith(FEDERATION)
            or name.startswith("__")
            or name in ("String", "Boolean", "Int", "Float", "ID")
        ):
            continue
        if not t.description:
            missing.append(name)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in t.fields.items():
                if field_name.startswith("_"):
                    continue
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(t, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in t.values.items() if not value.description]
    return missing


def test_every_type_field_argument_and_enum_value_is_described():
    assert undescribed(build_schema()._schema) == []


def test_the_walk_finds_what_is_missing():
    from graphql import build_schema as from_sdl

    schema = from_sdl('"""Root."""\ntype Query { a(x: Int): E }\nenum E { ONE }')
    assert undescribed(schema) == ["E", "E.ONE", "Query.a", "Query.a(x)"]
