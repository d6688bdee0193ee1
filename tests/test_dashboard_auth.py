"""The dashboard's sign-in (`/auth/session`): an API token exchanged for an HttpOnly,
SameSite=Strict session cookie plus a CSRF token; /graphql accepting that cookie (CSRF
header required on POST); expiry, sign-out, revoked tokens, bad bodies, the failed
sign-in limit, and CORS never lending the cookie to another origin."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from server.clock import FixedClock
from server.settings import Settings
from server.sign_in_limit import SignInLimiter, client_key
from storage.dashboard_sessions import DASHBOARD_SESSION, digest

T0 = 1_780_000_000.0
QUERY = '{ organization(slug: "acme") { slug } }'
APP_ORIGIN = "https://dash.example"


async def _app(make_app: Any, url: str, clock: FixedClock | None = None, **settings: Any) -> Any:
    app = await make_app(Settings(database_url=url, **settings), clock or FixedClock(T0))

    async def forget_cookies(response: httpx.Response) -> None:
        app.client.cookies.clear()  # each request says which cookie it sends

    app.client.event_hooks["response"].append(forget_cookies)
    await app.services.accounts.create_project("acme", "web", 1)
    await app.services.accounts.create_project("globex", "shop", 2)
    app.token = await app.services.accounts.create_token("acme", ["org:read", "org:write"])
    app.other = await app.services.accounts.create_token("globex", ["org:read"])
    return app


async def _sign_in(app: Any, token: str) -> tuple[str, str]:
    r = await app.client.post("/auth/session", json={"token": token})
    assert r.status_code == 200, r.text
    cookie = re.fullmatch(r"relhealth_session=([A-Za-z0-9_-]{43}); .*", r.headers["set-cookie"])
    assert cookie is not None
    return cookie[1], r.json()["csrfToken"]


def _cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"relhealth_session={value}"}


async def _rows(app: Any) -> int:
    async with app.services.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(DASHBOARD_SESSION)) or 0)


async def test_sign_in_status_and_sign_out(make_app, database_url):
    app = await _app(make_app, database_url)
    r = await app.client.post("/auth/session", json={"token": app.token})
    assert r.status_code == 200
    body = r.json()
    assert body["signedIn"] is True and body["organization"] == "acme"
    assert body["scopes"] == ["org:read", "org:write"]
    csrf = body["csrfToken"]
    assert len(csrf) == 43  # 256 bits, urlsafe base64 without padding
    header = r.headers["set-cookie"]
    cookie = header.split(";")[0].partition("=")[2]
    assert header == f"relhealth_session={cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"
    assert r.headers["cache-control"] == "no-store"
    # Only hashes are stored: neither the cookie nor the CSRF token is in the table.
    async with app.services.engine.connect() as conn:
        row = (await conn.execute(select(DASHBOARD_SESSION))).one()
    assert row.id_hash == digest(cookie) and row.csrf_hash == digest(csrf)
    assert cookie not in tuple(map(str, row)) and csrf not in tuple(map(str, row))
    assert (row.created_at, row.expires_at) == (T0, T0 + 12 * 3600)

    # The session's state, with the same CSRF token (derived, not stored).
    r = await app.client.get("/auth/session", headers=_cookie(cookie))
    assert r.status_code == 200 and r.json() == body
    r = await app.client.get("/auth/session")
    assert r.status_code == 401 and r.json() == {"signedIn": False}

    # Sign-out needs the CSRF token.
    r = await app.client.delete("/auth/session", headers=_cookie(cookie))
    assert r.status_code == 403 and "error" in r.json()
    r = await app.client.delete("/auth/session", headers={**_cookie(cookie), "X-CSRF-Token": csrf[:-1] + "x"})
    assert r.status_code == 403
    assert await _rows(app) == 1
    r = await app.client.delete("/auth/session", headers={**_cookie(cookie), "X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert r.headers["set-cookie"] == "relhealth_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    assert await _rows(app) == 0
    r = await app.client.get("/auth/session", headers=_cookie(cookie))
    assert r.status_code == 401 and r.json() == {"signedIn": False}
    assert r.headers["set-cookie"].endswith("Max-Age=0")  # a dead cookie is expired
    r = await app.client.post(
        "/graphql", json={"query": QUERY}, headers={**_cookie(cookie), "X-CSRF-Token": csrf}
    )
    assert r.status_code == 401 and r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_secure_over_https_and_max_age_setting(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url, session_max_age_seconds=600)
    r = await app.client.post("https://127.0.0.1:9000/auth/session", json={"token": app.token})
    assert r.headers["set-cookie"].endswith("; Path=/; Max-Age=600; Secure")


async def test_graphql_with_the_session_cookie(make_app, database_url):
    # A budget that refills by a millionth of a point per second: what a request spends shows.
    app = await _app(make_app, database_url, graphql_cost_budget=1000, graphql_cost_window=10**9)
    cookie, csrf = await _sign_in(app, app.token)
    signed = _cookie(cookie)

    # GET queries (the dashboard's persisted queries) need no CSRF header.
    r = await app.client.get("/graphql", params={"query": QUERY}, headers=signed)
    assert r.status_code == 200 and r.json()["data"] == {"organization": {"slug": "acme"}}
    remaining = r.json()["extensions"]["cost"]["budget"]["remaining"]
    # The session spends its token's cost budget, as the token itself does.
    r = await app.client.get(
        "/graphql", params={"query": QUERY}, headers={"Authorization": f"Bearer {app.token}"}
    )
    cost = r.json()["extensions"]["cost"]
    assert cost["budget"]["remaining"] == remaining - cost["requested"]
    # A POST without it, or with another, is refused before anything runs.
    for headers in (signed, {**signed, "X-CSRF-Token": "x" * 43}, {**signed, "X-CSRF-Token": ""}):
        r = await app.client.post("/graphql", json={"query": QUERY}, headers=headers)
        assert r.status_code == 403
        error = r.json()["errors"][0]
        assert error["extensions"]["code"] == "CSRF" and "X-CSRF-Token" in error["message"]
    r = await app.client.post("/graphql", json={"query": QUERY}, headers={**signed, "X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["data"] == {"organization": {"slug": "acme"}}
    # v1 too.
    r = await app.client.post(
        "/graphql/v1",
        json={"query": '{ project(id: "1") { slug } }'},
        headers={**signed, "X-CSRF-Token": csrf},
    )
    assert r.json()["data"] == {"project": {"slug": "web"}}
    # A Bearer token wins over the cookie (and needs no CSRF header).
    r = await app.client.post(
        "/graphql",
        json={"query": '{ organization(slug: "globex") { slug } }'},
        headers={**signed, "Authorization": f"Bearer {app.other}"},
    )
    assert r.json()["data"] == {"organization": {"slug": "globex"}}
    # An unknown cookie is not a session.
    r = await app.client.get("/graphql", params={"query": QUERY}, headers=_cookie("A" * 43))
    assert r.status_code == 401


async def test_expired_sessions_are_refused_and_deleted(make_app, sqlite_url):
    clock = FixedClock(T0)
    app = await _app(make_app, sqlite_url, clock, session_max_age_seconds=3600)
    cookie, _ = await _sign_in(app, app.token)
    clock.at = T0 + 3599
    assert (await app.client.get("/auth/session", headers=_cookie(cookie))).status_code == 200
    clock.at = T0 + 3600
    assert (await app.client.get("/auth/session", headers=_cookie(cookie))).status_code == 401
    assert await _rows(app) == 0
    # Sessions nobody asks about again are deleted by the next sign-in.
    await _sign_in(app, app.token)
    clock.at = T0 + 3600 + 7200
    await _sign_in(app, app.other)
    assert await _rows(app) == 1


async def test_a_revoked_token_ends_its_sessions(make_app, database_url):
    app = await _app(make_app, database_url)
    first, _ = await _sign_in(app, app.token)
    other, _ = await _sign_in(app, app.other)
    assert await app.services.accounts.revoke_token(app.token) is True
    assert await app.services.accounts.revoke_token(app.token) is False
    assert (await app.client.get("/auth/session", headers=_cookie(first))).status_code == 401
    r = await app.client.get("/graphql", params={"query": QUERY}, headers=_cookie(first))
    assert r.status_code == 401
    assert (await app.client.post("/auth/session", json={"token": app.token})).status_code == 401
    # A token row deleted behind the server's back: its session is refused just the same.
    async with app.services.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(text("DELETE FROM dashboard_session WHERE 0"))  # no FK enforcement
        await conn.execute(text("DELETE FROM api_token"))
    assert (await app.client.get("/auth/session", headers=_cookie(other))).status_code == 401


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"not json", {"Content-Type": "application/json"}, 400),
        (b"[]", {"Content-Type": "application/json"}, 400),
        (b'{"token": 5}', {"Content-Type": "application/json"}, 400),
        (b'{"tok": "x"}', {"Content-Type": "application/json"}, 400),
        (b'{"token": ""}', {"Content-Type": "application/json"}, 400),
        (b'{"token": "' + b"a" * 300 + b'"}', {"Content-Type": "application/json"}, 400),
        (b'{"token": "' + b"a" * 5000 + b'"}', {"Content-Type": "application/json"}, 413),
        (b'{"token": "x"}', {"Content-Type": "text/plain"}, 415),
        (b"token=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
async def test_bad_sign_in_bodies(make_app, sqlite_url, body, headers, status):
    app = await _app(make_app, sqlite_url)
    r = await app.client.post("/auth/session", content=body, headers=headers)
    assert r.status_code == status
    assert isinstance(r.json()["error"], str)
    assert "set-cookie" not in r.headers


async def test_a_streamed_body_over_the_limit_is_413(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)

    async def chunks():  # no Content-Length: the limit holds while it streams in
        for _ in range(10):
            yield b" " * 1000

    r = await app.client.post("/auth/session", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413


async def test_other_methods_are_405(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url)
    r = await app.client.put("/auth/session", json={"token": app.token})
    assert r.status_code == 405


async def test_failed_sign_ins_are_limited_per_client_address(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url, sign_in_max_failures=3, sign_in_window_seconds=60)
    for _ in range(3):
        r = await app.client.post("/auth/session", json={"token": "rh_wrong"})
        assert r.status_code == 401 and r.json() == {"error": "Invalid token."}
    # The fourth attempt is refused, right token or not.
    r = await app.client.post("/auth/session", json={"token": app.token})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another address is not affected.
    transport = httpx.ASGITransport(app=app.client._transport.app, client=("198.51.100.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9000") as other:
        assert (await other.post("/auth/session", json={"token": app.token})).status_code == 200


def test_the_limiter_forgets_after_the_window_and_stays_bounded():
    now = [0.0]
    limit = SignInLimiter(2, 60, max_clients=3, clock=lambda: now[0])
    limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") is None  # one failure of two
    now[0] = 10.0
    limit.failed("192.0.2.1")
    assert limit.retry_after("192.0.2.1") == 50  # the window started at 0
    now[0] = 60.0
    assert limit.retry_after("192.0.2.1") is None
    # IPv6 clients are counted per /64.
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    limit.failed("2001:db8::1")
    limit.failed("2001:db8::2")
    assert limit.retry_after("2001:db8::3") == 60
    # Never more than max_clients addresses: finished windows go first, then the oldest.
    for host in ("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13"):
        limit.failed(host)
    assert len(limit._failures) == 3


async def test_cors_never_lends_the_cookie_to_another_origin(make_app, sqlite_url):
    app = await _app(make_app, sqlite_url, cors_allowed_origins=[APP_ORIGIN])
    cookie, csrf = await _sign_in(app, app.token)
    # An allowed origin's request carrying the cookie: no Allow-Credentials, so a browser
    # never hands the answer of a credentialed request to its page.
    r = await app.client.get(
        "/graphql", params={"query": QUERY}, headers={**_cookie(cookie), "Origin": APP_ORIGIN}
    )
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-credentials" not in r.headers
    # The CSRF header may not be sent cross-origin: the preflight refuses it.
    r = await app.client.options(
        "/graphql",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-csrf-token",
        },
    )
    assert r.status_code == 400 and "access-control-allow-credentials" not in r.headers
    # /auth/session has no CORS at all: its preflight gets no Allow-Origin.
    r = await app.client.options(
        "/auth/session",
        headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = await app.client.post("/auth/session", json={"token": app.token}, headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in r.headers
    assert csrf
