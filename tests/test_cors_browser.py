"""A real headless Chromium: a page served from another origin on 127.0.0.1 calls relhealth's
GraphQL with a Bearer token. The browser lets it read the answer when its origin is allowed
and blocks the call when it is not."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.settings import Settings
from storage.types import USER_SEEN, SessionIncrement, WriteBatch
from tests.test_browser import _require_chromium

pytestmark = pytest.mark.slow

PAGE = b"""<!doctype html>
<html><body><pre id="out"></pre>
<script>
const params = new URLSearchParams(location.hash.slice(1));
const out = document.getElementById("out");
fetch(params.get("api") + "/graphql/v1", {
  method: "POST",
  headers: {"Content-Type": "application/json", "Authorization": "Bearer " + params.get("token")},
  body: JSON.stringify({query: '{ release(projectId: "1", version: "web@1.0") { health { totalSessions } } }'}),
})
  .then((r) => r.json())
  .then((body) => { out.textContent = "ok " + JSON.stringify(body.data); })
  .catch((e) => { out.textContent = "refused " + e; });
</script></body></html>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[object]:
    """`page_server()` serves the page on a new port of 127.0.0.1; returns its origin."""
    servers: list[ThreadingHTTPServer] = []

    def start() -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_browser_obeys_the_allowed_origins(live_server, page_server, sqlite_url):
    chromium = _require_chromium()
    from playwright.async_api import async_playwright

    allowed, refused = page_server(), page_server()
    server = live_server(Settings(database_url=sqlite_url, cors_allowed_origins=[allowed]))
    server.run(lambda: server.services.accounts.create_project("acme", "web", 1))
    token = server.run(lambda: server.services.accounts.create_token("acme", ["org:read"]))
    server.run(
        lambda: server.services.store.apply(
            [
                WriteBatch(
                    [
                        SessionIncrement(
                            1,
                            "web@1.0",
                            "production",
                            server.services.clock.now() - 60,
                            started_count=1,
                            user=f"u{i}",
                            user_tags=USER_SEEN,
                        )
                        for i in range(3)
                    ]
                )
            ]
        )
    )

    async def drive() -> dict[str, tuple[str, list[str]]]:
        results = {}
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
            try:
                for origin in (allowed, refused):
                    page = await browser.new_page()
                    console: list[str] = []
                    page.on("console", lambda m, console=console: console.append(m.text))
                    await page.goto(f"{origin}/#api={server.url}&token={token}")
                    await page.wait_for_function(
                        "document.getElementById('out').textContent !== ''", timeout=20000
                    )
                    results[origin] = (await page.locator("#out").inner_text(), console)
                    await page.close()
            finally:
                await browser.close()
        return results

    results = asyncio.run(drive())
    text, _ = results[allowed]
    assert text == 'ok {"release":{"health":{"totalSessions":3}}}'
    text, console = results[refused]
    assert text.startswith("refused TypeError"), text
    assert any("CORS policy" in line for line in console), console
