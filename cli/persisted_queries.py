"""`relhealth persisted-queries add|list|remove`: the allowlist of registered operations
(README "Persisted queries"); the server reads it in allowlist mode."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gql.operation_files import OperationFileError, operations
from server.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pq = sub.add_parser("persisted-queries", help="manage the allowlist of registered GraphQL operations")
    actions = pq.add_subparsers(dest="action", required=True)
    add = actions.add_parser(
        "add", help="register every operation of .graphql files (each with the fragments it uses)"
    )
    add.add_argument("files", nargs="+", metavar="FILE.graphql")
    add.add_argument(
        "--no-typename",
        action="store_true",
        help="hash the document as written (clients that do not add __typename, unlike Apollo Client)",
    )
    add.add_argument("--database-url")
    listing = actions.add_parser("list", help="list the registered operations")
    listing.add_argument("--database-url")
    remove = actions.add_parser("remove", help="remove operations by name or hash (8+ leading digits)")
    remove.add_argument("keys", nargs="+", metavar="NAME_OR_HASH")
    remove.add_argument("--database-url")


def run(settings: Settings, args: argparse.Namespace) -> int:
    entries: list[Entry] = []
    if args.action == "add":
        try:
            entries = _read(args.files, typename=not args.no_typename)
        except (OperationFileError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return asyncio.run(_apply(settings, args, entries))


Entry = tuple[str, str | None, str, str]


def _read(files: list[str], *, typename: bool) -> list[Entry]:
    entries = []
    for name in files:
        text = Path(name).read_text(encoding="utf-8")
        for op in operations(text, typename=typename, source=name):
            entries.append((op.sha256, op.name, op.document, name))
    return entries


async def _apply(settings: Settings, args: argparse.Namespace, entries: list[Entry]) -> int:
    from storage import persisted_queries as table
    from storage.engine import create_engine
    from storage.schema import SchemaError, ensure_schema

    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine)
        if args.action == "add":
            added = await table.add(engine, entries)
            for digest, op_name, _, source in entries:
                print(f"{digest}  {op_name or '(anonymous)'}  {source}")
            print(f"{added} registered, {len(entries) - added} already registered", file=sys.stderr)
        elif args.action == "list":
            for row in await table.load(engine):
                when = row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                print(f"{row.sha256}  {row.operation_name or '(anonymous)'}  {row.source}  {when}")
        else:
            removed = await table.remove(engine, args.keys)
            print(f"{removed} removed", file=sys.stderr)
            if not removed:
                return 1
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0
