"""GET /api/0/organizations/{org}/sessions/: Sentry's sessions API, same parameters, JSON
shape, value types, `Link` header and error strings (release-health.md section 8)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from resolvers.sessions.errors import SessionsQueryError
from resolvers.sessions.pagination import link_header
from resolvers.sessions.params import parse_sessions_params
from resolvers.sessions.result import sentry_body
from resolvers.sessions.service import sessions_query
from server.auth import authorize_org
from server.responses import JSONResponse, error
from server.services import Services
from storage import approximation

#: Names the distinct counts of the answer that are estimates, with their relative
#: standard error; absent when every number is exact.
APPROXIMATE_HEADER = "Relhealth-Approximate"

log = logging.getLogger(__name__)


async def sessions_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    now = services.clock.now()
    token = await authorize_org(request, services.accounts, request.path_params["org"])
    if isinstance(token, Response):
        return token
    projects = {p.id: p.slug for p in await services.accounts.projects_of_org(token.org_id)}
    started = time.perf_counter()
    try:
        with approximation.collecting() as approximate:
            query = parse_sessions_params(
                request.query_params.multi_items(), datetime.fromtimestamp(now, UTC)
            )
            result = await sessions_query(
                services.store,
                org_id=token.org_id,
                projects=projects,
                request=query,
                now=now,
                options=services.query_options,
            )
    except SessionsQueryError as exc:
        # the caller's mistake: one line, no traceback (unexpected errors keep theirs)
        log.warning("sessions query %s: %s", exc.status, exc.message[:300])
        return error(exc.status, exc.message)
    finally:
        services.metrics.query_latency.labels("sessions").observe(time.perf_counter() - started)
    headers = {"Link": link_header(str(request.url), result.previous, result.next)}
    if approximate:
        # Some distinct count came from a sketch in estimation mode (README, "Exact and
        # approximate answers"); the body keeps Sentry's shape.
        headers[APPROXIMATE_HEADER] = approximation.header_value(approximate)
    return JSONResponse(sentry_body(result), headers=headers)
