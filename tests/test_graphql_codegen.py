"""GraphQL Code Generator, as a frontend team runs it: typed operations generated from the
committed `schema.graphql` with the configuration the README documents
(`docs/clients/codegen.yml`), then type-checked by the TypeScript compiler in strict mode.
No scalar may come out `unknown` or `any` (codegen's `strictScalars` refuses a scalar the
configuration does not map), and a program that misreads a field's type must not compile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.npm_cache import npm_dir

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "@graphql-codegen/cli@7.4.3",
    "@graphql-codegen/typescript@6.1.0",
    "@graphql-codegen/typescript-operations@6.1.9",
    "graphql@16.15.0",
    "typescript@5.9.3",
]

USES = """
import type { ReleasesPageQuery, ReleasesPageQueryVariables } from "./generated";

export const variables: ReleasesPageQueryVariables = {
  projectIds: ["1"],
  first: 25,
  now: "2025-06-02T10:00:30Z",
};

export function firstVersion(data: ReleasesPageQuery): string | undefined {
  const node = data.releases.nodes[0];
  const sessions: number | string | null | undefined = node?.health.totalSessions;
  const rate: number | null | undefined = node?.health.crashFreeUsers;
  void sessions;
  void rate;
  return node?.version;
}
"""

MISUSE = """
import type { ReleasesPageQuery } from "./generated";

export function wrong(data: ReleasesPageQuery): boolean {
  // version is a string, not a boolean: must not compile
  return data.releases.nodes[0].version;
}
"""


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return npm_dir(PACKAGES, "the GraphQL Code Generator test") / "node_modules"


def _codegen(work: Path, node_modules: Path) -> subprocess.CompletedProcess[str]:
    (work / "node_modules").symlink_to(node_modules)
    return subprocess.run(
        [str(node_modules / ".bin" / "graphql-codegen"), "--config", "codegen.yml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tsc(work: Path, node_modules: Path, source: str) -> subprocess.CompletedProcess[str]:
    (work / "use.ts").write_text(source)
    return subprocess.run(
        [str(node_modules / ".bin" / "tsc"), "--noEmit", "--strict", "--skipLibCheck", "use.ts"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _block(source: str, opening: str) -> str:
    """The declaration starting at `opening`, up to its terminating `};` line."""
    start = source.index(opening)
    end = source.index("};", start)
    return source[start : end + 2]


def test_codegen_types_every_scalar_and_typescript_checks_it(tmp_path: Path, node_modules: Path) -> None:
    shutil.copy(ROOT / "schema.graphql", tmp_path / "schema.graphql")
    shutil.copy(ROOT / "docs" / "clients" / "codegen.yml", tmp_path / "codegen.yml")
    shutil.copytree(ROOT / "docs" / "clients" / "operations", tmp_path / "operations")
    run = _codegen(tmp_path, node_modules)
    assert run.returncode == 0, run.stdout + run.stderr
    generated = (tmp_path / "generated.ts").read_text()
    scalars = _block(generated, "export type Scalars = {")
    assert "DateTime: { input: string; output: string; }" in scalars
    assert "Count: { input: number | string; output: number | string; }" in scalars
    operation = _block(generated, "export type ReleasesPageQuery = {")
    for typed in (scalars, operation):
        code = [line for line in typed.splitlines() if not line.lstrip().startswith("/**")]
        assert not [line for line in code if "unknown" in line or "any" in line.split()], typed
    assert "totalSessions: number | string | null" in operation
    assert "intervals: Array<string>" in operation

    ok = _tsc(tmp_path, node_modules, USES)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _tsc(tmp_path, node_modules, MISUSE)
    assert bad.returncode != 0 and "not assignable to type 'boolean'" in bad.stdout, bad.stdout
