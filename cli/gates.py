"""`relhealth gate` (a release's verdict, as an exit code a CI or rollout pipeline can use)
and `relhealth gates add|list|remove` (README "Health gates").

`gate` asks API v2's `ReleaseHealth.gate` the same question either way: in-process against
the local database (the settings), or over HTTP against a remote relhealth
(`--url` and `--token`), so both answer the same verdict for the same data."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime
from typing import Any

from server.settings import Settings

#: Exit codes of `relhealth gate`.
EXIT = {"PASS": 0, "WARN": 1, "FAIL": 2, "INSUFFICIENT_DATA": 3}
#: Usage errors, an unreachable server, a GraphQL error, no matching gate.
EXIT_ERROR = 4

GATE_QUERY = """query Gate($project: ID!, $release: String!, $environment: String, $at: DateTime) {
  release(project: $project, version: $release) {
    health(scope: {window: {period: LAST_HOUR}, at: $at}) {
      gate(environment: $environment) {
        verdict rule
        gate { id environment window dimension { dimension value } }
        decidedBy { metric }
        checks { metric value target critical minimum outcome }
        scope { start end environments at }
        sessions users crashFreeSessionRate crashFreeUserRate adoption
      }
    }
  }
}"""

LEVELS = (
    ("crash_free_sessions_target", "crash-free sessions below this percent WARN"),
    ("crash_free_sessions_critical", "crash-free sessions below this percent FAIL"),
    ("crash_free_users_target", "crash-free users below this percent WARN"),
    ("crash_free_users_critical", "crash-free users below this percent FAIL"),
    ("adoption_target", "adoption (share of the project's sessions, 24 h) below this percent WARN"),
    ("adoption_critical", "adoption below this percent FAIL"),
)
DIMENSIONS = ("sdk.name", "os.name", "os.major", "browser.name", "browser.major")


class GateError(Exception):
    """Exit with EXIT_ERROR and this message."""


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gate = sub.add_parser(
        "gate",
        help="a release's health-gate verdict; exit 0 PASS, 1 WARN, 2 FAIL, 3 INSUFFICIENT_DATA, 4 error",
    )
    gate.add_argument(
        "--project", required=True, help="the project's numeric id (as in its DSN) or global id"
    )
    gate.add_argument("--release", required=True)
    gate.add_argument("--environment", help="the environment (default: every environment)")
    gate.add_argument("--at", help="evaluate at this RFC 3339 instant (default: now)")
    gate.add_argument("--json", action="store_true", help="print the verdict as JSON")
    gate.add_argument("--url", help="a remote relhealth, e.g. https://relhealth.example.com")
    gate.add_argument(
        "--token",
        default=os.environ.get("RELHEALTH_TOKEN"),
        help="an org:read API token of the remote relhealth (default: $RELHEALTH_TOKEN, which "
        "keeps it out of process listings and CI logs)",
    )
    gate.add_argument("--database-url")

    def usage_error(message: str) -> None:
        # argparse exits 2 on a usage error; for `gate`, 2 means FAIL.
        gate.print_usage(sys.stderr)
        gate.exit(EXIT_ERROR, f"{gate.prog}: error: {message}\n")

    gate.error = usage_error  # type: ignore[method-assign,assignment]

    gates = sub.add_parser("gates", help="manage health gates (local database)")
    actions = gates.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a gate for a project and environment")
    add.add_argument("--project", required=True, type=int, help="the project's numeric id")
    add.add_argument("--environment", help="the environment (default: every environment)")
    add.add_argument("--window", default="LAST_24_HOURS", help="a period, e.g. LAST_24_HOURS, LAST_7_DAYS")
    add.add_argument("--dimension", choices=DIMENSIONS, help="narrow the numbers to one client dimension ...")
    add.add_argument("--dimension-value", help="... and this value of it, e.g. iOS")
    for name, text in LEVELS:
        add.add_argument(f"--{name.replace('_', '-')}", type=float, help=text)
    add.add_argument("--min-sessions", type=int, default=0)
    add.add_argument("--min-users", type=int, default=0)
    add.add_argument("--database-url")
    listing = actions.add_parser("list", help="list the gates of a project (or of every project)")
    listing.add_argument("--project", type=int)
    listing.add_argument("--database-url")
    remove = actions.add_parser("remove", help="remove a gate by its numeric id")
    remove.add_argument("id", type=int)
    remove.add_argument("--database-url")


# -- relhealth gate -------------------------------------------------------------------------


def run_gate(settings: Settings, args: argparse.Namespace) -> int:
    if (args.url is None) != (args.token is None):
        print("error: --url and --token go together", file=sys.stderr)
        return EXIT_ERROR
    variables = {
        "project": args.project,
        "release": args.release,
        "environment": args.environment,
        "at": args.at,
    }
    try:
        if args.at is not None:
            datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        if args.url is not None:
            data = _remote(args.url, args.token, variables)
        else:
            data = asyncio.run(_local(settings, variables))
        return _report(data, args)
    except (GateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _remote(url: str, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    import httpx

    try:
        r = httpx.post(
            url.rstrip("/") + "/graphql",
            json={"query": GATE_QUERY, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise GateError(f"cannot reach {url}: {exc}") from None
    try:
        body = r.json()
    except ValueError:
        raise GateError(f"{url} answered HTTP {r.status_code}, not GraphQL") from None
    return _data(body)


async def _local(settings: Settings, variables: dict[str, Any]) -> dict[str, Any]:
    from cli.main import _open
    from gql.core.context import Context
    from gql.core.ids import project_id_of
    from gql.schema import build_schema
    from storage.accounts import TokenInfo

    services = await _open(settings)
    try:
        try:
            project_id = project_id_of(variables["project"])
        except Exception as exc:  # BadUserInput: a malformed id
            raise GateError(str(exc)) from None
        found = (await services.accounts.projects([project_id])).get(project_id)
        if found is None:
            raise GateError(f"no project {variables['project']}")
        context = Context(
            store=services.store,
            accounts=services.accounts,
            options=services.query_options,
            token=TokenInfo(found.org_id, found.org_slug, frozenset({"org:read"})),
            now=services.clock.now(),
        )
        result = await build_schema().execute(GATE_QUERY, variable_values=variables, context_value=context)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [{"message": e.message} for e in result.errors]
        return _data(body)
    finally:
        await services.engine.dispose()


def _data(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or body.get("errors") or not isinstance(body.get("data"), dict):
        errors = body.get("errors") if isinstance(body, dict) else None
        messages = "; ".join(str(e.get("message")) for e in errors or [] if isinstance(e, dict))
        raise GateError(messages or f"unexpected answer: {str(body)[:200]}")
    data: dict[str, Any] = body["data"]
    return data


def _report(data: dict[str, Any], args: argparse.Namespace) -> int:
    release = data.get("release")
    where = f"{args.release} in " + (
        args.environment if args.environment is not None else "every environment"
    )
    if release is None:
        # A release that never sent a session: nothing to judge yet.
        if args.json:
            print(
                json.dumps(
                    {"verdict": "INSUFFICIENT_DATA", "rule": "the release has no sessions", "gate": None}
                )
            )
        else:
            print(f"INSUFFICIENT_DATA  {where}: the release has no sessions")
        return EXIT["INSUFFICIENT_DATA"]
    evaluation = release["health"]["gate"]
    if evaluation is None:
        raise GateError(f"project {args.project} has no gate for {where.split(' in ', 1)[1]}")
    verdict = evaluation["verdict"]
    if args.json:
        print(json.dumps(evaluation, indent=2))
    else:
        print(_text(evaluation, where))
    return EXIT[verdict]


def _number(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{int(value)}" if metric in ("SESSIONS", "USERS") else f"{round(value, 4):g} %"


def _text(e: dict[str, Any], where: str) -> str:
    scope, gate = e["scope"], e["gate"]
    lines = [
        f"{e['verdict']}  {where}",
        f"rule: {e['rule']}",
        f"gate {gate['id']}: window {gate['window']} ({scope['start']} .. {scope['end']})",
    ]
    for c in e["checks"]:
        if c["minimum"] is not None:
            levels = f"minimum {c['minimum']}"
        else:
            parts = [f"target {c['target']:g}" if c["target"] is not None else ""]
            parts.append(f"critical {c['critical']:g}" if c["critical"] is not None else "")
            levels = " ".join(p for p in parts if p)
        name = c["metric"].lower().replace("_", " ")
        lines.append(f"  {name:<20} {_number(c['metric'], c['value']):>12}  {levels:<28} {c['outcome']}")
    return "\n".join(lines)


# -- relhealth gates add|list|remove ---------------------------------------------------------


def run_gates(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_gates(settings, args))
    except GateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _gates(settings: Settings, args: argparse.Namespace) -> int:
    from cli.main import _open
    from storage import gates

    services = await _open(settings)
    engine = services.accounts.engine
    try:
        if args.action == "add":
            project = (await services.accounts.projects([args.project])).get(args.project)
            if project is None:
                raise GateError(f"no project {args.project}")
            rule = _rule(args)
            try:
                gate = await gates.create(engine, project.org_id, project.id, rule)
            except gates.GateExists as exc:
                raise GateError(str(exc)) from None
            print(f"gate {gate.id} added: {_describe(gate)}")
        elif args.action == "list":
            listed = [g for g in await gates.every(engine) if args.project in (None, g.project_id)]
            projects = await services.accounts.projects(sorted({g.project_id for g in listed}))
            for gate in listed:
                p = projects[gate.project_id]
                print(f"{gate.id}\tproject {p.id} ({p.org_slug}/{p.slug})\t{_describe(gate)}")
        else:
            found = await gates.by_ids(engine, None, [args.id])
            if args.id not in found or not await gates.remove(engine, found[args.id].org_id, args.id):
                raise GateError(f"no gate {args.id}")
            print(f"gate {args.id} removed")
    finally:
        await services.engine.dispose()
    return 0


def _rule(args: argparse.Namespace) -> Any:
    from gql.core.enums import Period
    from gql.gates.evaluate import levels_of
    from resolvers.gates import validate
    from storage.gates import GateRule

    if args.window not in Period.__members__:
        raise GateError(f"--window is one of {', '.join(Period.__members__)}")
    if (args.dimension is None) != (args.dimension_value is None):
        raise GateError("--dimension and --dimension-value go together")
    rule = GateRule(
        environment=args.environment,
        dimension=args.dimension,
        dimension_value=args.dimension_value,
        time_window=args.window,
        min_sessions=args.min_sessions,
        min_users=args.min_users,
        **{name: getattr(args, name) for name, _ in LEVELS},
    )
    problems = validate(levels_of(rule))
    if problems:
        raise GateError("; ".join(message for _, message in problems))
    return rule


def _describe(gate: Any) -> str:
    r = gate.rule
    parts = [f"environment {r.environment if r.environment is not None else '(every)'}", r.time_window]
    if r.dimension is not None:
        parts.append(f"{r.dimension}={r.dimension_value}")
    parts += [f"{name}={getattr(r, name):g}" for name, _ in LEVELS if getattr(r, name) is not None]
    parts += [f"min_sessions={r.min_sessions}", f"min_users={r.min_users}"]
    return " ".join(parts)
