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
  slug: "acme",
  scope: { window: { period: "LAST_24_HOURS" }, environments: ["production"], at: "2025-06-02T10:00:30Z" },
  first: 25,
  order: { field: "SESSIONS", direction: "DESC" },
};

export function firstVersion(data: ReleasesPageQuery): string | undefined {
  const node = data.organization?.health.releases.edges[0]?.node;
  const sessions: number | string | undefined = node?.sessions;
  const rate: number | null | undefined = node?.crashFreeUserRate;
  const next: string | null | undefined = data.organization?.health.releases.pageInfo.endCursor;
  void sessions;
  void rate;
  void next;
  return node?.release.version;
}
"""

MISUSE = """
import type { ReleasesPageQuery } from "./generated";

export function wrong(data: ReleasesPageQuery): boolean {
  // version is a string, not a boolean: must not compile
  return data.organization!.health.releases.edges[0].node.release.version;
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


def _block(source: str, opening: str, closing: str = "};") -> str:
    """The declaration starting at `opening`, up to its terminating `closing`."""
    start = source.index(opening)
    end = source.index(closing, start)
    return source[start : end + len(closing)]


def _copy_inputs(work: Path, codegen_yml: str) -> None:
    work.mkdir(exist_ok=True)
    shutil.copy(ROOT / "schema.graphql", work / "schema.graphql")
    (work / "codegen.yml").write_text(codegen_yml)
    shutil.copytree(ROOT / "docs" / "clients" / "operations", work / "operations")


def test_codegen_types_every_scalar_and_typescript_checks_it(tmp_path: Path, node_modules: Path) -> None:
    config = (ROOT / "docs" / "clients" / "codegen.yml").read_text()
    _copy_inputs(tmp_path, config)
    run = _codegen(tmp_path, node_modules)
    assert run.returncode == 0, run.stdout + run.stderr
    generated = (tmp_path / "generated.ts").read_text()
    # typescript-operations inlines each scalar's mapping where it is used: DateTime in the
    # variables' input type, Count in the answer.
    scope = _block(generated, "export type HealthScope = {")
    assert "at?: string | null | undefined;" in scope
    variables = _block(generated, "export type ReleasesPageQueryVariables = Exact<{", "}>;")
    operation = _block(generated, "export type ReleasesPageQuery = {")
    for typed in (scope, variables, operation):
        code = [line for line in typed.splitlines() if not line.lstrip().startswith("/**")]
        assert not [line for line in code if "unknown" in line or "any" in line.split()], typed
    assert "sessions: number | string," in operation
    assert "crashFreeUserRate: number | null" in operation
    assert "endCursor: string | null" in operation

    # strictScalars is in force: without the DateTime mapping, codegen refuses to run.
    unmapped = tmp_path / "unmapped"
    _copy_inputs(unmapped, config.replace("        DateTime: string\n", ""))
    refused = _codegen(unmapped, node_modules)
    assert refused.returncode != 0 and "Unknown scalar type DateTime" in refused.stdout + refused.stderr

    ok = _tsc(tmp_path, node_modules, USES)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = _tsc(tmp_path, node_modules, MISUSE)
    assert bad.returncode != 0 and "not assignable to type 'boolean'" in bad.stdout, bad.stdout
