"""Serving the dashboard: the page at `/` and at `/releases/...`, its assets under
`/dashboard/` with the right types, the security headers on all of them, and the
package shipping `server/static/dashboard/**`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from server.dashboard import CSP, assets
from server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "server" / "static" / "dashboard" / "index.html"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _secured(r: httpx.Response) -> None:
    assert r.headers["content-security-policy"] == EXPECTED_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "path", ["/", "/releases/1/web@1.0.0", "/releases/2/pkg%2Fname@2.0.0%2Bbuild/details", "/?x=1"]
)
async def test_the_page_is_served_at_its_addresses(make_app, sqlite_url, path):
    app = await make_app(Settings(database_url=sqlite_url))
    r = await app.client.get(path)
    assert r.status_code == 200
    assert r.content == PAGE.read_bytes()
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    _secured(r)
    assert CSP == EXPECTED_CSP


async def test_packaged_assets_carry_the_headers(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url))
    r = await app.client.get("/dashboard/index.html")
    assert r.status_code == 200 and r.content == PAGE.read_bytes()
    _secured(r)
    r = await app.client.get("/dashboard/no-such-file.js")
    assert r.status_code == 404
    _secured(r)
    # Nothing outside the directory.
    r = await app.client.get("/dashboard/../graphiql.html")
    assert r.status_code == 404 or "GraphiQL" not in r.text


async def test_asset_types_whatever_the_host_says(tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("export {};\n")
    (tmp_path / "app.css").write_text("body { margin: 0 }\n")
    (tmp_path / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    app = Starlette(routes=[Mount("/dashboard", assets(str(tmp_path)))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for path, media in [
            ("/dashboard/js/app.js", "text/javascript; charset=utf-8"),
            ("/dashboard/app.css", "text/css; charset=utf-8"),
            ("/dashboard/favicon.svg", "image/svg+xml"),
        ]:
            r = await client.get(path)
            assert r.status_code == 200 and r.headers["content-type"] == media, path
            _secured(r)


@pytest.mark.slow
def test_the_package_ships_the_dashboard(tmp_path):
    """setuptools' `build_py` (what a wheel is made of) copies every file of
    server/static/dashboard, nested ones included (the pages live in js/pages/)."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "tests", "bench", "build", "*.egg-info", "__pycache__"
        ),
    )
    nested = source / "server" / "static" / "dashboard" / "js" / "pages" / "probe.js"
    nested.parent.mkdir(parents=True, exist_ok=True)
    nested.write_text("export {};\n")
    out = tmp_path / "lib"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(out),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    dashboard = source / "server" / "static" / "dashboard"
    expected = {p.relative_to(dashboard).as_posix() for p in dashboard.rglob("*") if p.is_file()}
    built = out / "server" / "static" / "dashboard"
    shipped = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert {"index.html", "operations.graphql", "js/pages/probe.js"} <= expected
    assert expected <= shipped, sorted(expected - shipped)
