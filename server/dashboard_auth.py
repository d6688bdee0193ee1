"""`/auth/session`: the dashboard's sign-in, an API token exchanged for a session cookie.

- `POST` `{"token": "..."}`: a new session. The cookie `relhealth_session` is HttpOnly
  (page scripts never read it, so an injected script cannot carry it away), SameSite=Strict
  (no other site's page sends it) and Secure over https. The answer's `csrfToken` must
  accompany every cookie-authenticated POST to /graphql (`X-CSRF-Token`) and the
  sign-out: a header another origin cannot set without a CORS preflight, which relhealth
  never grants with credentials.
- `GET`: the session's state (the page asks it on load, to learn its CSRF token again).
- `DELETE` with `X-CSRF-Token`: sign-out; the session is deleted server side.

The CSRF token is derived from the cookie value (an HMAC keyed by it), so the server can
give it again without storing it; the table keeps its hash, against which it is checked.
The token itself is sent in a JSON body, never in a URL (which logs and `Referer` keep).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import orjson
from starlette.requests import Request
from starlette.responses import Response

from server.responses import JSONResponse
from server.services import Services
from storage import dashboard_sessions as sessions
from storage.accounts import TokenInfo, hash_token

COOKIE = "relhealth_session"
CSRF_HEADER = "X-CSRF-Token"
#: Largest sign-in body: a token is 46 characters; JSON around it a few more.
MAX_BODY = 4096
#: Longest API token looked up (they are 46 characters): anything longer is not one.
MAX_TOKEN = 256
#: Longest cookie value looked up (ours are 43 characters).
MAX_COOKIE = 128
NO_STORE = {"Cache-Control": "no-store"}


def csrf_token(cookie: str) -> str:
    mac = hmac.new(cookie.encode("utf-8", "surrogateescape"), b"relhealth csrf v1", hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def cookie_header(request: Request, value: str, max_age: int) -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"


def session_cookie(request: Request) -> str | None:
    """The session cookie's value, if the request carries a plausible one."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > MAX_COOKIE:
        return None
    return value


async def find_session(request: Request, services: Services) -> sessions.SessionGrant | None:
    cookie = session_cookie(request)
    if cookie is None:
        return None
    return await sessions.find(services.engine, cookie, int(services.clock.now()))


def csrf_matches(request: Request, grant: sessions.SessionGrant) -> bool:
    given = request.headers.get(CSRF_HEADER, "")
    if not given or len(given) > MAX_COOKIE:
        return False
    return hmac.compare_digest(sessions.digest(given), grant.csrf_hash)


def grant_token(grant: sessions.SessionGrant) -> TokenInfo:
    return TokenInfo(grant.org_id, grant.org_slug, grant.scopes)


def _signed_in(org: str, scopes: frozenset[str], csrf: str) -> dict[str, object]:
    return {"signedIn": True, "organization": org, "scopes": sorted(scopes), "csrfToken": csrf}


def _signed_out(request: Request, status: int, body: dict[str, object] | None = None) -> Response:
    """An answer that also expires a cookie the request carried."""
    response = JSONResponse(body or {"signedIn": False}, status_code=status, headers=NO_STORE)
    if COOKIE in request.cookies:
        response.headers["Set-Cookie"] = cookie_header(request, "", 0)
    return response


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers={**NO_STORE, **(headers or {})})


async def session_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    if request.method == "POST":
        return await _sign_in(request, services)
    if request.method == "GET":
        grant = await find_session(request, services)
        if grant is None:
            return _signed_out(request, 401)
        cookie = session_cookie(request)
        assert cookie is not None
        return JSONResponse(_signed_in(grant.org_slug, grant.scopes, csrf_token(cookie)), headers=NO_STORE)
    if request.method == "DELETE":
        return await _sign_out(request, services)
    return _error(405, "/auth/session takes GET, POST and DELETE.", {"Allow": "GET, POST, DELETE"})


async def _sign_in(request: Request, services: Services) -> Response:
    host = request.client.host if request.client else "unknown"
    limit = services.sign_in_limit
    wait = limit.retry_after(host)
    if wait is not None:
        return _error(429, f"Too many failed sign-ins; retry in {wait} s.", {"Retry-After": str(wait)})
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        # Also what keeps another site's plain HTML form from signing a browser in.
        return _error(415, 'Send {"token": "<api token>"} as JSON (Content-Type: application/json).')
    body = await _read_body(request)
    if body is None:
        return _error(413, f"The body exceeds {MAX_BODY} bytes.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, 'The body is not JSON: send {"token": "<api token>"}.')
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        return _error(400, 'Send {"token": "<api token>"}: a string.')
    info = await services.accounts.token(token)
    cookie = secrets.token_urlsafe(32)
    csrf = csrf_token(cookie)
    settings = services.settings
    now = int(services.clock.now())
    max_age = settings.session_max_age_seconds
    if info is None or not await sessions.create(
        services.engine, cookie, csrf, hash_token(token), now, max_age
    ):
        limit.failed(host)
        return _error(401, "Invalid token.")
    response = JSONResponse(_signed_in(info.org_slug, info.scopes, csrf), headers=NO_STORE)
    response.headers["Set-Cookie"] = cookie_header(request, cookie, max_age)
    return response


async def _sign_out(request: Request, services: Services) -> Response:
    grant = await find_session(request, services)
    if grant is None:
        return _signed_out(request, 401)
    if not csrf_matches(request, grant):
        return _error(403, f"Sign-out needs the session's CSRF token in the {CSRF_HEADER} header.")
    cookie = session_cookie(request)
    assert cookie is not None
    await sessions.remove(services.engine, cookie)
    response = Response(status_code=204, headers=NO_STORE)
    response.headers["Set-Cookie"] = cookie_header(request, "", 0)
    return response


async def _read_body(request: Request) -> bytes | None:
    """The body, or None once it is known to exceed MAX_BODY (never more held)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
