"""CORS of the query APIs: allowed origins are a setting (none by default), preflights are
answered, actual responses name allowed origins only, and the envelope endpoint keeps its
own permissive CORS."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from server.settings import Settings

APP = "http://127.0.0.1:5173"
OTHER = "https://evil.example"
QUERY = {"query": '{ project(id: "1") { slug } }'}


async def _app(make_app, url, **settings):
    app = await make_app(Settings(database_url=url, **settings))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    return app, token


def _preflight_headers(
    origin: str, method: str = "POST", headers: str = "authorization,content-type"
) -> dict:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize("path", ["/graphql/v1", "/api/0/organizations/acme/sessions/"])
async def test_preflight_for_an_allowed_origin(make_app, sqlite_url, path):
    app, _ = await _app(make_app, sqlite_url, cors_allowed_origins=[APP], cors_max_age=900)
    r = await app.client.options(path, headers=_preflight_headers(APP, "GET"))
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["access-control-allow-methods"] == "GET, POST"
    assert {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")} == {
        "authorization",
        "content-type",
    }
    assert r.headers["access-control-max-age"] == "900"
    assert "Origin" in r.headers["vary"]


@pytest.mark.parametrize("path", ["/graphql/v1", "/api/0/organizations/acme/sessions/"])
async def test_preflight_refused(make_app, sqlite_url, path):
    app, _ = await _app(make_app, sqlite_url, cors_allowed_origins=[APP])
    r = await app.client.options(path, headers=_preflight_headers(OTHER))
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    assert OTHER in r.text
    r = await app.client.options(path, headers=_preflight_headers(APP, "DELETE"))
    assert r.status_code == 400 and "DELETE" in r.text
    r = await app.client.options(path, headers=_preflight_headers(APP, headers="authorization,x-secret"))
    assert r.status_code == 400 and "x-secret" in r.text
    assert "access-control-allow-origin" not in r.headers
    # The envelope endpoint keeps its own permissive CORS (SDKs post from any page).
    envelope = _preflight_headers(OTHER, headers="content-type")
    r = await app.client.options("/api/1/envelope/", headers=envelope)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"


async def test_no_origin_is_allowed_by_default(make_app, sqlite_url):
    app, token = await _app(make_app, sqlite_url)
    r = await app.client.options("/graphql/v1", headers=_preflight_headers(APP))
    assert r.status_code == 403
    r = await app.client.post(
        "/graphql/v1", json=QUERY, headers={"Origin": APP, "Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["vary"] == "Origin"


async def test_actual_responses_name_allowed_origins_only(make_app, sqlite_url):
    app, token = await _app(make_app, sqlite_url, cors_allowed_origins=[APP, "https://other.app"])
    auth = {"Authorization": f"Bearer {token}"}
    r = await app.client.post("/graphql/v1", json=QUERY, headers={"Origin": APP, **auth})
    assert r.status_code == 200 and r.json()["data"] == {"project": {"slug": "web"}}
    assert r.headers["access-control-allow-origin"] == APP
    assert r.headers["vary"] == "Origin"
    assert "Link" in r.headers["access-control-expose-headers"]
    r = await app.client.get(
        "/api/0/organizations/acme/sessions/?field=sum(session)&statsPeriod=1d",
        headers={"Origin": APP, **auth},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    # Errors are readable by the allowed page too (it must see the 401 to ask for a token).
    r = await app.client.post("/graphql/v1", json=QUERY, headers={"Origin": APP})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == APP
    for headers in ({"Origin": OTHER, **auth}, auth):
        r = await app.client.post("/graphql/v1", json=QUERY, headers=headers)
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers
        assert r.headers["vary"] == "Origin"


async def test_any_origin_when_configured(make_app, sqlite_url):
    app, token = await _app(make_app, sqlite_url, cors_allowed_origins=["*"])
    r = await app.client.options("/graphql/v1", headers=_preflight_headers(OTHER))
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    r = await app.client.post(
        "/graphql/v1", json=QUERY, headers={"Origin": OTHER, "Authorization": f"Bearer {token}"}
    )
    assert r.headers["access-control-allow-origin"] == "*"
    r = await app.client.get("/healthz", headers={"Origin": APP})  # not a query API
    assert "access-control-allow-origin" not in r.headers


def test_origins_setting(monkeypatch):
    monkeypatch.setenv("RELHEALTH_CORS_ALLOWED_ORIGINS", "https://App.example.com, http://127.0.0.1:3000")
    assert Settings().cors_allowed_origins == ["https://app.example.com", "http://127.0.0.1:3000"]
    monkeypatch.setenv("RELHEALTH_CORS_ALLOWED_ORIGINS", '["*"]')
    assert Settings().cors_allowed_origins == ["*"]
    monkeypatch.delenv("RELHEALTH_CORS_ALLOWED_ORIGINS")
    assert Settings().cors_allowed_origins == []
    for bad in ("https://app.example.com/", "app.example.com", "https://a.com/path", "ftp://a.com"):
        monkeypatch.setenv("RELHEALTH_CORS_ALLOWED_ORIGINS", bad)
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings()
