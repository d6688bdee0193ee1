"""The `relhealth` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from server.settings import Settings

EXAMPLE_QUERY = """{
  organization(slug: "%(org)s") {
    health(scope: {window: {period: LAST_24_HOURS}}) {
      releases(first: 5, orderBy: {field: SESSIONS}) {
        totalCount
        nodes {
          release { version project { slug } }
          sessions users crashFreeSessionRate crashFreeUserRate
          adoption { userRate sessionRate }
          series(interval: HOUR) { intervals total crashed }
        }
      }
    }
  }
}"""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: value
        for name in ("database_url", "host", "port", "workers")
        if (value := getattr(args, name, None)) is not None
    }
    return Settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relhealth", description="Release-health server.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database-url")
    serve.add_argument("--workers", type=int)
    serve.add_argument("--demo", action="store_true", help="fill an empty store with demo data")

    demo = sub.add_parser("demo", help="fill a store with demo data")
    demo.add_argument("--database-url")

    projects = sub.add_parser("projects", help="manage projects")
    projects_sub = projects.add_subparsers(dest="action", required=True)
    pcreate = projects_sub.add_parser("create", help="create a project (and its organization)")
    pcreate.add_argument("org")
    pcreate.add_argument("project")
    pcreate.add_argument("--id", type=int)
    pcreate.add_argument("--database-url")

    tokens = sub.add_parser("tokens", help="manage API tokens")
    tokens_sub = tokens.add_subparsers(dest="action", required=True)
    tcreate = tokens_sub.add_parser("create", help="create an API token")
    tcreate.add_argument("org")
    tcreate.add_argument("--scope", nargs="+", required=True, dest="scopes")
    tcreate.add_argument("--database-url")
    trevoke = tokens_sub.add_parser(
        "revoke",
        help="revoke an API token (read from standard input: a token on the command line is seen by"
        " every user of the machine and kept in shell history) and end its dashboard sessions",
    )
    trevoke.add_argument("--database-url")

    imp = sub.add_parser("import", help="bulk-import historical session data (JSON lines), idempotently")
    imp.add_argument("file")
    imp.add_argument("--database-url")
    imp.add_argument(
        "--import-id",
        help="names the import; re-running it skips lines already applied (default: the SHA-256 of the file)",
    )

    sub.add_parser("export-schema", help="print the GraphQL SDL")

    from cli.persisted_queries import add_parser as add_persisted_queries

    add_persisted_queries(sub)

    from cli.alerts import add_parser as add_alerts
    from cli.gates import add_parsers as add_gates
    from cli.schema_check import add_parser as add_schema_check
    from cli.webhooks import add_parser as add_webhooks

    add_gates(sub)
    add_alerts(sub)
    add_webhooks(sub)

    add_schema_check(sub)

    migrate = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--database-url")

    cleanup = sub.add_parser(
        "cleanup", help="delete buckets older than their retention (the server does it hourly)"
    )
    cleanup.add_argument("--database-url")

    args = parser.parse_args(argv)
    settings = _settings(args)
    if args.command == "serve":
        return _serve(settings, demo=args.demo)
    if args.command == "demo":
        return asyncio.run(_demo(settings))
    if args.command == "projects":
        return asyncio.run(_create_project(settings, args.org, args.project, args.id))
    if args.command == "tokens" and args.action == "revoke":
        return asyncio.run(_revoke_token(settings, sys.stdin.readline().strip()))
    if args.command == "tokens":
        return asyncio.run(_create_token(settings, args.org, args.scopes))
    if args.command == "import":
        return asyncio.run(_import(settings, args.file, args.import_id))
    if args.command == "export-schema":
        from gql.schema import build_schema
        from gql.sdl import print_sdl

        sys.stdout.write(print_sdl(build_schema()))
        return 0
    if args.command == "schema-check":
        from cli import schema_check

        return schema_check.run(args)
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command == "persisted-queries":
        from cli import persisted_queries

        return persisted_queries.run(settings, args)
    if args.command in ("gate", "gates"):
        from cli import gates

        return gates.run_gate(settings, args) if args.command == "gate" else gates.run_gates(settings, args)
    if args.command == "alerts":
        from cli import alerts

        return alerts.run(settings, args)
    if args.command == "webhooks":
        from cli import webhooks

        return webhooks.run(settings, args)
    if args.command == "cleanup":
        return asyncio.run(_cleanup(settings))
    parser.error(f"unknown command {args.command}")
    return 2


async def _open(settings: Settings):  # type: ignore[no-untyped-def]
    from server.app import build_services
    from storage.schema import SchemaError

    try:
        return await build_services(settings)
    except SchemaError as exc:
        raise SystemExit(f"error: {exc}") from None


async def _migrate(settings: Settings) -> int:
    from storage.engine import create_engine
    from storage.schema import SchemaError, current_revision, migrate, safe_url

    engine = create_engine(settings.database_url)
    try:
        before = await current_revision(engine)
        await migrate(engine)
        after = await current_revision(engine)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    if before == after:
        print(f"database schema is up to date at revision {after} ({safe_url(settings.database_url)})")
    else:
        print(
            f"database schema migrated from revision {before or 'none'} to {after} "
            f"({safe_url(settings.database_url)})"
        )
    return 0


async def _check_schema(settings: Settings) -> int:
    """Before serving: create an empty database, refuse one that is behind or ahead."""
    from storage.engine import create_engine
    from storage.schema import SchemaError, ensure_schema

    engine = create_engine(settings.database_url)
    try:
        await ensure_schema(engine)
    except SchemaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0


async def _cleanup(settings: Settings) -> int:
    import time

    services = await _open(settings)
    try:
        deleted = await services.retention_task().run_once()
    finally:
        await services.engine.dispose()
    print(
        "deleted "
        + ", ".join(f"{n} {table} rows" for table, n in deleted.items())
        + f" (retention cleanup at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())})"
    )
    return 0


async def _create_project(settings: Settings, org: str, project: str, project_id: int | None) -> int:
    from storage.accounts import AccountError

    services = await _open(settings)
    try:
        info, key = await services.accounts.create_project(org, project, project_id)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.engine.dispose()
    print(f"project id: {info.id}")
    print(f"DSN: {dsn(settings, key, info.id)}")
    return 0


async def _create_token(settings: Settings, org: str, scopes: list[str]) -> int:
    from storage.accounts import AccountError

    services = await _open(settings)
    try:
        token = await services.accounts.create_token(org, scopes)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.engine.dispose()
    print(token)
    return 0


async def _revoke_token(settings: Settings, token: str) -> int:
    if not token:
        print("error: no token on standard input", file=sys.stderr)
        return 2
    services = await _open(settings)
    try:
        revoked = await services.accounts.revoke_token(token)
    finally:
        await services.engine.dispose()
    if not revoked:
        print("error: no such token", file=sys.stderr)
        return 1
    # Servers cache tokens they have seen; dashboard sessions are read from their table.
    print(
        f"token revoked: running servers refuse it within {services.accounts.ACCOUNT_CACHE_SECONDS:g} s,"
        " its dashboard sessions at once"
    )
    return 0


async def _import(settings: Settings, path: str, import_id: str | None) -> int:
    import time

    from jobs.importer import file_import_id, run_import

    if not os.path.isfile(path):
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    services = await _open(settings)
    try:
        with open(path, "rb") as f:
            report = await run_import(
                f,
                import_id=import_id or file_import_id(path),
                store=services.store,
                accounts=services.accounts,
                received_at=time.time(),
                workers=settings.import_workers,
                progress=lambda n: print(f"  {n} lines", file=sys.stderr, flush=True),
            )
    finally:
        await services.engine.dispose()
    for r in report.rejected:
        detail = f" ({r.detail})" if r.detail else ""
        print(f"line {r.line_no}: rejected: {r.reason}{detail}", file=sys.stderr)
    print(
        f"import {report.import_id}: {report.lines} lines, {report.accepted} accepted, "
        f"{len(report.rejected)} rejected, {report.skipped} already imported"
    )
    return 1 if report.rejected else 0


def dsn(settings: Settings, public_key: str, project_id: int) -> str:
    scheme, _, rest = settings.base_url().partition("://")
    return f"{scheme}://{public_key}@{rest}/{project_id}"


async def _demo(settings: Settings, *, quiet: bool = False) -> int:
    import time

    from jobs.demo import ProgressBar, demo_is_needed, generate_demo

    services = await _open(settings)
    try:
        if not await demo_is_needed(services.accounts):
            if not quiet:
                print("the store already has projects; demo data not added", file=sys.stderr)
            return 0
        bar = ProgressBar("demo data")
        info = await generate_demo(services.accounts, services.store, now=time.time(), progress=bar)
        bar.close()
        if not quiet:
            for p in info.projects:
                print(f"project {p.slug} (id {p.id}): DSN {dsn(settings, p.public_key, p.id)}")
    finally:
        await services.engine.dispose()
    return 0


async def _demo_banner(settings: Settings) -> None:
    services = await _open(settings)
    try:
        org = "demo"
        projects = []
        org_id = await services.accounts.organization_id(org)
        if org_id is not None:
            projects = await services.accounts.projects_of_org(org_id)
        if not projects:
            return
        token = await services.accounts.create_token(org, ["org:read", "org:write"])
        key = await services.accounts.first_key(projects[0].id)
        base = settings.base_url()
        print("\nrelhealth demo is ready")
        print(
            f"  Dashboard: {base}/#token={token}   (opens signed in; the token stays in the "
            "fragment, which browsers never send)"
        )
        print(f"  GraphiQL:  {base}/graphql#token={token}   (opens already signed in)")
        print(f"  token:     {token}   (send as 'Authorization: Bearer <token>')")
        if key:
            print(f"  DSN:       {dsn(settings, key, projects[0].id)}   (project {projects[0].slug})")
        print("  example query:\n" + EXAMPLE_QUERY % {"org": org})
        print(
            f"  curl: curl -s {base}/graphql -H 'Authorization: Bearer {token}' "
            '-H \'Content-Type: application/json\' -d \'{"query":"{ organization(slug: \\"demo\\") '
            "{ projects { id slug } } }\"}'\n",
            flush=True,
        )
    finally:
        await services.engine.dispose()


def _serve(settings: Settings, *, demo: bool) -> int:
    import uvicorn

    if asyncio.run(_check_schema(settings)):
        return 1
    if demo:
        asyncio.run(_demo(settings, quiet=True))
        asyncio.run(_demo_banner(settings))
    # Workers are separate processes: hand them the settings through the environment.
    os.environ["RELHEALTH_DATABASE_URL"] = settings.database_url
    os.environ["RELHEALTH_HOST"] = settings.host
    os.environ["RELHEALTH_PORT"] = str(settings.port)
    uvicorn.run(
        "server.asgi:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level="info",
        proxy_headers=True,
        # A larger WebSocket message is refused before it is read whole (close 1009).
        ws_max_size=settings.subscription_max_message_bytes,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
