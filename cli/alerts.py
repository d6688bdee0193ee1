"""`relhealth alerts evaluate|list|remove`: one evaluation pass (for cron and tests), and
the alert rules of the local database (created through API v2's `createAlertRule`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from resolvers.timetext import format_iso
from server.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    alerts = sub.add_parser("alerts", help="evaluate and list alert rules (local database)")
    actions = alerts.add_subparsers(dest="action", required=True)
    evaluate = actions.add_parser(
        "evaluate", help="run one evaluation pass now (skipped when another process is evaluating)"
    )
    evaluate.add_argument("--at", help="evaluate up to this instant (ISO 8601) instead of now")
    listing = actions.add_parser("list", help="list the alert rules and their current levels")
    listing.add_argument("--project", type=int, help="only this project's rules")
    remove = actions.add_parser("remove", help="remove a rule (with its state and incidents) by id")
    remove.add_argument("id", type=int)


def run(settings: Settings, args: argparse.Namespace) -> int:
    at = None
    if getattr(args, "at", None):
        try:
            parsed = datetime.fromisoformat(args.at.replace("Z", "+00:00"))
        except ValueError:
            print(f"error: --at {args.at!r} is not an ISO 8601 instant", file=sys.stderr)
            return 2
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    return asyncio.run(_run(settings, args, at))


async def _run(settings: Settings, args: argparse.Namespace, at: float | None) -> int:
    from cli.main import _open
    from storage import alerts

    services = await _open(settings)
    engine = services.accounts.engine
    try:
        if args.action == "evaluate":
            result = await services.alert_task().run_once(at)
            if result.transitions is None:
                print("skipped: another process is evaluating")
                return 0
            for t in result.transitions:
                when = format_iso(t.at)
                value = "-" if t.value is None else f"{t.value:g}"
                late = "\tlate" if t.late else ""  # found re-evaluating a past minute
                print(
                    f"{when}\trule {t.rule.id}\t{t.release}\t{t.before.name} -> {t.after.name}"
                    f"\t{t.kind.value}\t{value}{late}"
                )
            print(f"{len(result.transitions)} transitions, {result.skipped_minutes} minutes skipped")
        elif args.action == "list":
            for rule in await alerts.every(engine):
                if args.project not in (None, rule.project_id):
                    continue
                s = rule.spec
                levels = {r: st.level.name for r, st in (await alerts.states(engine, rule.id)).items()}
                print(
                    f"{rule.id}\tproject {rule.project_id}\t{s.name}\t{s.metric} {s.direction}"
                    f" warning={s.warning} critical={s.critical}\t{s.selector}"
                    f"{'' if s.selector_argument is None else ':' + s.selector_argument}\t{levels}"
                )
        elif not await alerts.remove(engine, None, args.id):
            print(f"error: no alert rule {args.id}", file=sys.stderr)
            return 1
        else:
            print(f"alert rule {args.id} removed")
    finally:
        await services.engine.dispose()
    return 0
