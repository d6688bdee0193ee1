"""`relhealth schema-check`: the breaking-change check of the GraphQL schema against the
last release (README "Schema"); `tests/test_schema_check.py` runs it in CI."""

from __future__ import annotations

import argparse
from pathlib import Path

from gql.schema_check import SchemaCheckError, check, render


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "schema-check",
        help="fail (exit 1) on a GraphQL schema change that breaks clients and is not announced",
    )
    parser.add_argument("--baseline", default="schema.released.graphql", help="the released schema")
    parser.add_argument("--announcements", default="schema-breaks.toml", help="the announced breaks")
    parser.add_argument("--changelog", default="CHANGELOG.md")
    parser.add_argument("--schema", help="an SDL file to check instead of this code's schema")


def run(args: argparse.Namespace) -> int:
    """0 when every break is announced, 1 when one is not (or an announcement is wrong),
    2 when an input cannot be read."""
    try:
        if args.schema:
            current = Path(args.schema).read_text()
        else:
            from gql.schema import build_schema
            from gql.sdl import print_sdl

            current = print_sdl(build_schema())
        report = check(
            Path(args.baseline).read_text(),
            current,
            Path(args.announcements).read_text(),
            Path(args.changelog).read_text(),
        )
    except (OSError, SchemaCheckError) as exc:
        print(f"schema-check: {exc}")
        return 2
    print(render(report, args.baseline, args.announcements))
    return 0 if report.ok else 1
