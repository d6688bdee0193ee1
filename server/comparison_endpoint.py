"""GET /api/0/organizations/{org}/releases/{version}/comparison/: a release compared with
another release, its previous release or the baseline of the project's other releases
(issue 10 section 1). The same numbers as GraphQL's `ReleaseHealth.comparison`: both run
`resolvers.release_comparison` over the typed sessions core."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from resolvers import comparison as stats
from resolvers.release_comparison import (
    AGAINST_BASELINE,
    AGAINST_PREVIOUS,
    AGAINST_RELEASE,
    Outcome,
    Target,
    Window,
    counts_by_project,
    decide,
    first_seen,
)
from resolvers.sessions.errors import SessionsQueryError
from resolvers.sessions.params import QueryParams, parse_now, parse_time_range
from resolvers.sessions.time_range import resolve_range
from resolvers.timetext import format_iso
from server.auth import authorize_org
from server.responses import JSONResponse, error
from server.services import Services

NOT_FOUND = "The requested resource does not exist"


class BadParameter(Exception):
    pass


def _target(raw: str | None) -> Target:
    if raw == "previous":
        return Target(AGAINST_PREVIOUS)
    if raw == "baseline":
        return Target(AGAINST_BASELINE)
    if raw is not None and raw.startswith("release:"):
        return Target(AGAINST_RELEASE, raw.removeprefix("release:"))
    raise BadParameter("`against` is `previous`, `baseline` or `release:<version>`.")


def _count(params: QueryParams, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise BadParameter(f"`{name}` is a whole number, 0 or more.")
    return int(raw)


def _project(params: QueryParams) -> int:
    raw = params.getlist("project")
    if len(raw) != 1 or not (raw[0].isascii() and raw[0].isdigit()):
        raise BadParameter("Give exactly one `project` id.")
    return int(raw[0])


def _interval(i: stats.Interval | None) -> dict[str, float] | None:
    return None if i is None else {"low": i.low, "high": i.high}


def _side(release: str | None, c: stats.Counts | None) -> dict[str, Any]:
    counts = asdict(c or stats.Counts())
    return {
        "release": release,
        "sessions": counts["sessions"],
        "crashedSessions": counts["crashed"],
        "erroredSessions": counts["errored"],
        "abnormalSessions": counts["abnormal"],
        "unhandledSessions": counts["unhandled"],
        "users": counts["users"],
        "crashedUsers": counts["crashed_users"],
        "projectSessions": counts["project_sessions"],
    }


def body_of(outcome: Outcome, version: str, target_known: bool, guard: stats.Guard) -> dict[str, Any]:
    """The JSON of a comparison: GraphQL's `ReleaseComparison` field for field."""
    return {
        "subject": _side(version, outcome.release),
        "target": _side(outcome.target_release if target_known else None, outcome.target),
        "rates": [
            {
                "metric": r.metric.upper(),
                "value": r.value,
                "baseline": r.baseline,
                "delta": r.delta,
                "interval": _interval(r.interval),
                "baselineInterval": _interval(r.baseline_interval),
                "deltaInterval": _interval(r.delta_interval),
                "verdict": r.verdict.name,
            }
            for r in outcome.comparison.rates
        ],
        "verdict": outcome.comparison.verdict.name,
        "confidence": stats.DEFAULT_CONFIDENCE,
        "minSessions": guard.min_sessions,
        "minUsers": guard.min_users,
    }


async def comparison_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    clock = services.clock.now()
    token = await authorize_org(request, services.accounts, request.path_params["org"])
    if isinstance(token, Response):
        return token
    version = request.path_params["version"]
    params = QueryParams(request.query_params.multi_items())
    if "statsPeriod" not in params and "start" not in params and "end" not in params:
        params = QueryParams([*params.pairs, ("statsPeriod", "24h")])
    try:
        project_id = _project(params)
        target = _target(params.get("against"))
        guard = stats.Guard(
            _count(params, "minSessions", stats.DEFAULT_MIN_SESSIONS),
            _count(params, "minUsers", stats.DEFAULT_MIN_USERS),
        )
        now = parse_now(params, datetime.fromtimestamp(clock, UTC))
        start, end = resolve_range(parse_time_range(params, now), now)
    except BadParameter as exc:
        return error(400, str(exc))
    except SessionsQueryError as exc:
        return error(exc.status, exc.message)
    projects = {p.id: p.slug for p in await services.accounts.projects_of_org(token.org_id)}
    series = await services.store.series([project_id]) if project_id in projects else []
    everywhere = first_seen(series, None)
    if version not in everywhere:
        return error(404, NOT_FOUND)
    asked = params.getlist("environment")
    environments: tuple[str, ...] | None = None
    if asked:  # an environment that never sent a session counts zero, as in GraphQL
        known = await services.store.environments(token.org_id)
        environments = tuple(e for e in dict.fromkeys(asked) if e in known)
    window = Window(start.timestamp(), end.timestamp(), now.timestamp(), environments)
    try:
        counts = await counts_by_project(
            services.store,
            org_id=token.org_id,
            projects={project_id: projects[project_id]},
            window=window,
            query=params.get("query") or "",
            now=clock,
            options=services.query_options,
        )
    except SessionsQueryError as exc:
        return error(exc.status, exc.message)
    scoped = None if not asked else tuple(dict.fromkeys(asked))
    outcome = decide(counts[project_id], first_seen(series, scoped), version, target, guard)
    body = body_of(outcome, version, outcome.target_release in everywhere, guard)
    body.update(
        release=version,
        project=project_id,
        kind=target.kind.upper() if target.kind != AGAINST_PREVIOUS else "PREVIOUS_RELEASE",
        start=format_iso(window.start),
        end=format_iso(window.end),
        at=format_iso(window.at),
        environments=None if not asked else list(dict.fromkeys(asked)),
        query=params.get("query") or "",
    )
    return JSONResponse(body)
