"""schema.graphql is exactly what `relhealth export-schema` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_schema_file_matches_export() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "cli.main", "export-schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (ROOT / "schema.graphql").read_text() == printed, (
        "schema.graphql is stale: run `relhealth export-schema > schema.graphql`"
    )


def test_schema_is_a_federation_subgraph_with_entity_keys() -> None:
    sdl = (ROOT / "schema.graphql").read_text()
    assert 'type Release implements Node @key(fields: "id") @key(fields: "projectId version")' in sdl
    assert 'type Project implements Node @key(fields: "id") @key(fields: "projectId")' in sdl
    assert "_entities(representations: [_Any!]!): [_Entity]!" in sdl
