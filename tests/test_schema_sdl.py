"""The published SDL (`schema.graphql`, `relhealth export-schema`) loads in strict tools:
graphql-core's and graphql-js's `buildSchema` with full validation (no `assume_valid`),
and Apollo's composition still accepts it as a Federation v2 subgraph. It defines what it
uses (`@link`, `@key` and their argument types) exactly as the running schema holds them,
so the file and introspection name the same types. The released baseline
(`schema.released.graphql`, tests/test_schema_check.py) loads the same way."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from graphql import build_schema, print_directive

from gql.schema import build_schema as relhealth_schema
from gql.sdl import print_sdl
from tests import npm_cache

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "schema.graphql"
RELEASED = ROOT / "schema.released.graphql"
SCRIPT = Path(__file__).resolve().parent / "js" / "strict_sdl.mjs"
FEDERATION_DEFINITIONS = [
    "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA",
    "directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE",
    "scalar federation__FieldSet",
    "scalar link__Import",
    "enum link__Purpose {\n  SECURITY\n  EXECUTION\n}",
]


def _served_type_names() -> list[str]:
    types = relhealth_schema()._schema.type_map
    return sorted(name for name in types if not name.startswith("__"))


def test_strawberrys_own_printing_is_what_strict_tools_refuse():
    """Why the published SDL adds definitions: without them, @link and @key are unknown."""
    with pytest.raises(TypeError, match="Unknown directive '@link'"):  # graphql-core's SDL error
        build_schema(relhealth_schema().as_str())


def test_graphql_core_builds_the_published_sdl_strictly():
    sdl = PUBLISHED.read_text()
    assert sdl == print_sdl(relhealth_schema())
    schema = build_schema(sdl)  # validates the SDL: no assume_valid, no assume_valid_sdl
    assert sorted(n for n in schema.type_map if not n.startswith("__")) == _served_type_names()
    for definition in FEDERATION_DEFINITIONS:
        assert definition in sdl, definition
    assert print_directive(schema.get_directive("key")) == FEDERATION_DEFINITIONS[1]
    assert 'type Release implements Node @key(fields: "id") @key(fields: "projectId version")' in sdl
    # the schema block stays first: Federation's @link reads as the document's header
    assert sdl.startswith('schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])')


def test_graphql_core_builds_the_released_baseline_strictly():
    build_schema(RELEASED.read_text())


def test_print_sdl_adds_nothing_to_a_schema_without_extra_directives():
    import strawberry

    @strawberry.type
    class Query:
        hello: str = "world"

    printed = print_sdl(strawberry.Schema(query=Query))
    assert printed == "type Query {\n  hello: String!\n}\n"


def test_graphql_js_and_apollo_composition_load_the_published_sdl():
    env = {
        **os.environ,
        "RELHEALTH_NPM_DIR": str(npm_cache.npm_dir(npm_cache.APOLLO_FEDERATION, "the strict SDL test")),
    }
    proc = subprocess.run(
        ["node", str(SCRIPT), str(PUBLISHED), str(RELEASED)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    published, released = results[str(PUBLISHED)], results[str(RELEASED)]
    assert published["buildSchema"] == "ok", published
    assert published["types"] == _served_type_names()
    assert published["compose"] == "ok", published
    assert released["buildSchema"] == "ok", released
    assert released["compose"] == "ok", released
