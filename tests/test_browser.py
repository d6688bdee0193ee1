"""GraphiQL in a real headless Chromium against a live server: the page loads its assets
from relhealth itself (no CDN), exchanges the token of the URL fragment for an HttpOnly
session cookie (the token then in no URL, no script-readable cookie and no storage) and
runs a query with that cookie and its CSRF header."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from urllib.parse import quote

import pytest

from server.settings import Settings
from storage.types import USER_SEEN, SessionIncrement, WriteBatch

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _require_chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is required under CI=true (Debian package `chromium`)")
    pytest.skip("Chromium not installed (apt-get install chromium); browser test skipped")


def test_graphiql_runs_a_query_in_chromium(live_server, sqlite_url, tmp_path):
    chromium = _require_chromium()
    from playwright.async_api import async_playwright

    server = live_server(Settings(database_url=sqlite_url))
    server.run(lambda: server.services.accounts.create_project("acme", "web", 1))
    token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
    now = time.time()
    server.run(
        lambda: server.services.store.apply(
            [
                WriteBatch(
                    [
                        SessionIncrement(
                            1,
                            "web@1.0.0",
                            "production",
                            now - 60,
                            started_count=1,
                            user=f"u{i}",
                            user_tags=USER_SEEN,
                            crashed=int(i == 0),
                            error_sid="00000000-0000-4000-8000-000000000001" if i == 0 else None,
                        )
                        for i in range(4)
                    ]
                )
            ]
        )
    )
    query = '{ release(projectId: "1", version: "web@1.0.0") { health { totalSessions crashFreeSessions } } }'

    async def drive() -> str:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=chromium,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                ],
            )
            page = await browser.new_page()
            external: list[str] = []
            sent: list[tuple[str, str, dict[str, str]]] = []
            page.on("request", lambda r: None if r.url.startswith(server.url) else external.append(r.url))
            page.on("request", lambda r: sent.append((r.method, r.url, r.headers)))
            await page.goto(f"{server.url}/graphql/v1#token={token}&query={quote(query)}")
            await page.wait_for_selector(".graphiql-container", timeout=20000)
            await page.click(".graphiql-execute-button")
            result = page.locator(".result-window")
            await result.get_by_text("crashFreeSessions").wait_for(timeout=20000)
            text = await result.inner_text()
            await page.screenshot(path=str(tmp_path / "graphiql.png"))
            # The fragment is gone from the address bar; scripts see no cookie, no storage holds the token.
            assert page.url == f"{server.url}/graphql/v1"
            assert await page.evaluate("document.cookie") == ""
            stored = await page.evaluate("JSON.stringify(Object.assign({}, window.localStorage))")
            assert token not in stored
            cookies = await page.context.cookies()
            assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
                ("relhealth_session", True, "Strict")
            ]
            await browser.close()
            assert not [u for u in external if not u.startswith("data:")], external
            assert not [u for _, u, _ in sent if token in u]
            # The query ran with the cookie and the session's CSRF token, no Authorization.
            posts = [h for m, u, h in sent if m == "POST" and u.endswith("/graphql/v1")]
            assert posts and all("x-csrf-token" in h and "authorization" not in h for h in posts)
            return text

    text = asyncio.run(drive())
    assert '"totalSessions": 4' in text
    assert '"crashFreeSessions": 75' in text
