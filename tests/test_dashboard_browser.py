"""The dashboard (issue 11) in a real headless Chromium against a live server on demo data.

One server for the module: `create_app` on 127.0.0.1 with the clock pinned at `NOW` (as
the other end-to-end tests pin time), filled by `generate_demo(now=NOW)`, the data
`relhealth serve --demo` writes. Every number the pages render carries its raw API value
(`data-value`), its path in the operation's answer (`data-field`) and its format
(`data-format`); the test asks /graphql the same operation with a Bearer token and the
variables it works out itself from the page's URL, then compares each value exactly and
each text as formatted here (the same rules as server/static/dashboard/js/format.js).

Every request leaves through `context.route`, which lets only 127.0.0.1 through and counts
the others (there must be none). Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from gql.operation_files import operations
from jobs.demo import generate_demo
from server.clock import FixedClock
from server.settings import Settings
from tests.conftest import LiveServer
from tests.npm_cache import npm_dir
from tests.test_browser import _require_chromium

pytestmark = pytest.mark.slow

# A Thursday, 08:53:20.5 UTC (as tests/test_demo.py): the current hour is partly over.
NOW = 1_760_000_000.5
ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "server" / "static" / "dashboard" / "operations.graphql"
ARTIFACTS = ROOT / "test-artifacts"
AXE = ("axe-core@4.11.0",)
BAD = "mobile@2.4.0"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

# The page state -> variables mapping, written out independently of the page's JS.
PERIODS = {
    "1h": ("LAST_HOUR", "FIVE_MINUTES"),
    "24h": ("LAST_24_HOURS", "HOUR"),
    "48h": ("LAST_48_HOURS", "HOUR"),
    "7d": ("LAST_7_DAYS", "SIX_HOURS"),
    "14d": ("LAST_14_DAYS", "SIX_HOURS"),
    "30d": ("LAST_30_DAYS", "DAY"),
    "90d": ("LAST_90_DAYS", "DAY"),
}
SORTS = {
    "sessions": "SESSIONS",
    "users": "USERS",
    "crash_free_sessions": "CRASH_RATE",
    "crash_free_users": "USER_CRASH_RATE",
}


# -- formatting, as js/format.js does it -------------------------------------------


def to_fixed(value: float, digits: int) -> str:
    """JavaScript's Number.prototype.toFixed: the exact binary value, ties away from 0."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def fmt_percent(value: float | None, digits: int) -> str:
    if value is None:
        return "—"
    text = to_fixed(value, digits)
    step = 10.0**-digits
    if value < 100 and float(text) >= 100:
        text = to_fixed(100 - step, digits)
    if value > 0 and float(text) <= 0:
        text = to_fixed(step, digits)
    return f"{text}%"


def fmt_count(value: int | str | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_delta(value: float | None) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{to_fixed(abs(value), 2)} pp"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    s = math.floor(value + 0.5)  # Math.round
    if s < 60:
        return f"{s}s"
    m = s // 60
    return f"{m}m {s % 60}s" if m < 60 else f"{m // 60}h {m % 60}m"


FORMATS = {
    "count": fmt_count,
    "pct2": lambda v: fmt_percent(v, 2),
    "pct1": lambda v: fmt_percent(v, 1),
    "delta": fmt_delta,
    "seconds": fmt_seconds,
}


# -- the server, the API and the browser ---------------------------------------------


class Demo:
    def __init__(self, server: LiveServer, token: str) -> None:
        self.server = server
        self.token = token
        self.url = server.url
        self.documents = {op.name: op.document for op in operations(OPERATIONS.read_text(), typename=False)}

    def api(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The operation's answer for a Bearer-token client (no cookie, no persisted query)."""
        r = httpx.post(
            f"{self.url}/graphql",
            json={"query": self.documents[name], "operationName": name, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    _require_chromium()
    db = tmp_path_factory.mktemp("dashboard") / "relhealth.db"
    server = LiveServer(Settings(database_url=f"sqlite+aiosqlite:///{db}"), FixedClock(NOW))
    original_startup = server.server.startup

    async def startup(sockets=None):  # type: ignore[no-untyped-def]
        server._capture_loop()
        await original_startup(sockets=sockets)

    server.server.startup = startup  # type: ignore[method-assign]
    server.start()
    try:
        server.run(lambda: generate_demo(server.services.accounts, server.services.store, now=NOW))
        token = server.run(lambda: server.services.accounts.create_token("demo", ["org:read"]))
        yield Demo(server, token)
    finally:
        server.stop()


class Browser:
    """One Chromium for the module; each `page()` is a fresh context (its own cookies)
    whose every request is routed: 127.0.0.1 goes through, anything else is aborted and
    counted in `blocked`."""

    def __init__(self, browser: Any, demo: Demo) -> None:
        self.browser = browser
        self.demo = demo
        self.blocked: list[str] = []
        self.requests: list[str] = []
        self.csp_errors: list[str] = []

    def page(self, *, width: int = 1440, dark: bool = False, bypass_csp: bool = False) -> Any:
        context = self.browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme="dark" if dark else "light",
            bypass_csp=bypass_csp,
        )

        def route(r: Any) -> None:
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        context.on("request", lambda req: self.requests.append(req.url))
        page = context.new_page()
        page.on(
            "console",
            lambda m: self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        return page


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_require_chromium(), args=CHROMIUM_ARGS)
        try:
            b = Browser(chromium, demo)
            yield b
        finally:
            chromium.close()
        # No page asked for anything beyond relhealth itself, and nothing broke the CSP.
        assert b.blocked == []
        assert b.csp_errors == []


def wait_ready(page: Any) -> None:
    """Every request of the current render answered (app.js sets aria-busy). A selector,
    not wait_for_function: the page's CSP forbids the eval that one needs."""
    page.wait_for_selector('#view[aria-busy="false"]', state="attached")


def signed_in(browser: Browser, path: str, **kw: Any) -> Any:
    page = browser.page(**kw)
    page.goto(f"{browser.demo.url}{path}#token={browser.demo.token}")
    wait_ready(page)
    return page


def releases_variables(q: dict[str, str]) -> dict[str, Any]:
    env = q.get("environment")
    period, interval = PERIODS[q.get("period", "14d")]
    return {
        "slug": "demo",
        "scope": {"window": {"period": period}, "environments": None if env is None else [env]},
        "projects": [q["project"]] if q.get("project") else None,
        "orderBy": {"field": SORTS[q.get("sort", "sessions")], "direction": "DESC"},
        "first": 25,
        "stat": "USERS" if q.get("display") == "users" else "SESSIONS",
        "interval": interval,
        "stageEnvironment": env or "",
        "hasStageEnvironment": bool(env),
        "gateEnvironment": env,
    }


def release_variables(project: str, version: str, q: dict[str, str]) -> dict[str, Any]:
    env = q.get("environment")
    period, interval = PERIODS[q.get("period", "14d")]
    return {
        "project": project,
        "version": version,
        "scope": {"window": {"period": period}, "environments": None if env is None else [env]},
        "interval": interval,
        "stageEnvironment": env or "",
        "hasStageEnvironment": bool(env),
        "gateEnvironment": env,
    }


def resolve(data: Any, path: str) -> Any:
    """The value at a dotted path; `<series path>#crashFree.<i>` is the page's one derived
    number, 100 × (1 − crashed / total) of bucket i."""
    path, _, derived = path.partition("#")
    value = data
    for part in path.split("."):
        if value is None:
            return None
        value = value[int(part)] if isinstance(value, list) else value[part]
    if derived:
        i = int(derived.split(".")[1])
        total, crashed = int(value["total"][i]), int(value["crashed"][i])
        return None if total == 0 else 100 * (1 - crashed / total)
    return value


def rendered_numbers(page: Any, within: str = "#view") -> list[dict[str, str]]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        f"{within} [data-format]",
        """els => els.map(e => ({field: e.dataset.field, value: e.dataset.value,
                                 format: e.dataset.format, text: e.textContent}))""",
    )


def assert_numbers_match(page: Any, data: dict[str, Any], within: str = "#view") -> int:
    """Every rendered number equals the API's value at its path, and reads as formatted."""
    numbers = rendered_numbers(page, within)
    for n in numbers:
        expected = resolve(data, n["field"])
        if expected is None:
            assert n["value"] == "null", n
        elif n["format"] == "count":
            assert int(n["value"]) == int(expected), n
        else:
            assert float(n["value"]) == float(expected), (n, expected)
        assert n["text"] == FORMATS[n["format"]](expected), (n, expected)
    return len(numbers)


def row_order(page: Any) -> list[str]:
    return page.eval_on_selector_all(  # type: ignore[no-any-return]
        "#releases-table tbody tr", "rows => rows.map(r => r.dataset.release)"
    )


def api_order(data: dict[str, Any]) -> list[str]:
    return [
        f"{n['release']['projectId']}/{n['release']['version']}"
        for n in data["organization"]["health"]["releases"]["nodes"]
    ]


def query_of(page: Any) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(urlsplit(page.url).query, keep_blank_values=True))


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


# -- the Releases page ---------------------------------------------------------------


def test_releases_page_shows_the_api_numbers(browser: Browser) -> None:
    for path in ("/", "/?environment=production&period=24h", "/?project=3&environment=production&period=7d"):
        page = signed_in(browser, path)
        q = query_of(page)
        data = browser.demo.api("ReleasesPage", releases_variables(q))
        nodes = data["organization"]["health"]["releases"]["nodes"]
        assert len(nodes) > 3
        assert row_order(page) == api_order(data)
        checked = assert_numbers_match(page, data, "#releases-table")
        # Adoption, two crash-free rates, sessions and users on every row.
        assert checked == 5 * len(nodes)
        # Every row links to its release page.
        hrefs = page.eval_on_selector_all(
            "#releases-table tbody .release-link", "as => as.map(a => a.pathname)"
        )
        assert hrefs == [
            f"/releases/{r.split('/', 1)[0]}/{quote(r.split('/', 1)[1], safe='')}" for r in api_order(data)
        ]
        # The sparkline has one point per bucket of the API's series.
        points = page.eval_on_selector_all(
            "#releases-table tbody polyline", "ps => ps.map(p => p.getAttribute('points').split(' ').length)"
        )
        assert points == [len(n["series"]["total"]) for n in nodes]
        page.context.close()


def adoption_variables(q: dict[str, str]) -> dict[str, Any]:
    env = q.get("environment")
    period, interval = PERIODS[q.get("period", "14d")]
    stat = "USERS" if q.get("display") == "users" else "SESSIONS"
    return {
        "project": q["project"],
        "scope": {"window": {"period": period}, "environments": None if env is None else [env]},
        "interval": interval,
        "stat": stat,
        "orderBy": {"field": stat, "direction": "DESC"},
        "first": 8,
    }


def test_adoption_chart_of_one_project(browser: Browser) -> None:
    page = signed_in(browser, "/?project=3&environment=production&period=7d")
    data = browser.demo.api("AdoptionChart", adoption_variables(query_of(page)))
    nodes = data["project"]["health"]["releases"]["nodes"]
    assert len(nodes) > 2
    # One line per release (uPlot's legend: time + one entry per series).
    assert page.locator("#view .chart .u-legend .u-series").count() == 1 + len(nodes)
    # The table under the chart: every bucket of every line, as the API says.
    page.click("details.chart-details summary")
    checked = assert_numbers_match(page, data, "#adoption-data")
    assert checked == sum(len(n["adoptionSeries"]["rate"]) for n in nodes)
    headers = page.eval_on_selector_all("#adoption-data thead a", "as => as.map(a => a.textContent)")
    assert headers == [n["release"]["version"] for n in nodes]
    # Click on the most adopted release's line at the last bucket: its page opens.
    rates = [n["adoptionSeries"]["rate"][-1] or 0 for n in nodes]
    top = max(range(len(nodes)), key=lambda i: rates[i])
    box = page.locator("#view .chart .u-over").bounding_box()
    assert box
    y = box["y"] + box["height"] * (1 - rates[top] / 100)
    x = box["x"] + box["width"] - 10  # the last bucket (the cursor snaps to the nearest)
    page.mouse.move(x, y)
    legend = page.locator("#view .chart .u-legend .u-series").nth(1 + top).inner_text()
    assert fmt_percent(nodes[top]["adoptionSeries"]["rate"][-1], 1) in legend  # hover value
    page.mouse.click(x, y)
    wait_ready(page)
    assert urlsplit(page.url).path == f"/releases/3/{quote(nodes[top]['release']['version'], safe='')}"
    assert page.inner_text("#page-title") == nodes[top]["release"]["version"]
    page.context.close()


def test_sorting_and_display_follow_the_api(browser: Browser) -> None:
    page = signed_in(browser, "/?environment=production")
    orders = {}
    for sort in ("users", "crash_free_sessions", "crash_free_users", "sessions"):
        page.select_option("#pick-sort", sort)
        wait_ready(page)
        q = query_of(page)
        assert q.get("sort", "sessions") == sort
        data = browser.demo.api("ReleasesPage", releases_variables(q))
        orders[sort] = api_order(data)
        assert row_order(page) == orders[sort]
        assert_numbers_match(page, data, "#releases-table")
    # The four orders are four different rankings of the same releases.
    assert len({tuple(o) for o in orders.values()}) == 4
    # Ranking by users (or their crash rate) leaves out releases without user data (api's).
    assert sorted(orders["crash_free_sessions"]) == sorted(orders["sessions"])
    assert sorted(orders["users"]) == sorted(orders["crash_free_users"])
    assert set(orders["users"]) < set(orders["sessions"])
    # Crash-free sort: least crash-free first, as the API ranks (nulls last).
    rates = [
        n["crashFreeSessionRate"]
        for n in browser.demo.api(
            "ReleasesPage", releases_variables({"environment": "production", "sort": "crash_free_sessions"})
        )["organization"]["health"]["releases"]["nodes"]
    ]
    assert rates == sorted(rates)

    # Display users: adoption switches to the users' share, the sparkline to users.
    before = page.eval_on_selector_all(
        "#releases-table tbody .adoption-cell .num", "es => es.map(e => e.dataset.field)"
    )
    assert all(f.endswith("adoption.sessionRate") for f in before)
    page.click("button[data-display=users]")
    wait_ready(page)
    q = query_of(page)
    assert q["display"] == "users"
    assert page.get_attribute("button[data-display=users]", "aria-pressed") == "true"
    data = browser.demo.api("ReleasesPage", releases_variables(q))
    assert row_order(page) == api_order(data)
    after = page.eval_on_selector_all(
        "#releases-table tbody .adoption-cell .num", "es => es.map(e => e.dataset.field)"
    )
    assert all(f.endswith("adoption.userRate") for f in after)
    assert_numbers_match(page, data, "#releases-table")
    # Somewhere the two shares differ, so the switch changed what is shown.
    nodes = data["organization"]["health"]["releases"]["nodes"]
    assert any(n["adoption"] and n["adoption"]["userRate"] != n["adoption"]["sessionRate"] for n in nodes)

    # Back: sessions again, same state as the URL says.
    page.go_back()
    wait_ready(page)
    assert "display" not in query_of(page)
    assert page.get_attribute("button[data-display=sessions]", "aria-pressed") == "true"
    page.context.close()


def test_the_bad_release_shows_as_bad(browser: Browser) -> None:
    page = signed_in(browser, "/?project=3&environment=production")
    row = page.locator(f'#releases-table tbody tr[data-release="3/{BAD}"]')
    data = browser.demo.api("ReleasesPage", releases_variables(query_of(page)))
    node = next(
        n for n in data["organization"]["health"]["releases"]["nodes"] if n["release"]["version"] == BAD
    )
    assert node["crashFreeSessionRate"] < 90
    assert node["gate"]["verdict"] == "FAIL"
    assert row.locator("[data-verdict]").get_attribute("data-verdict") == "FAIL"
    assert row.locator("[data-verdict]").inner_text() == "Fail"
    # Below the gate's critical level: marked critical (the level comes from the gate).
    cell = row.locator("td", has=page.locator('[data-field$=".crashFreeSessionRate"]'))
    assert "level-critical" in (cell.get_attribute("class") or "")
    # Good releases of the same project pass.
    good = [n for n in data["organization"]["health"]["releases"]["nodes"] if n["gate"]["verdict"] == "PASS"]
    assert good
    for n in good:
        r = page.locator(f'#releases-table tbody tr[data-release="3/{n["release"]["version"]}"]')
        assert r.locator("[data-verdict]").get_attribute("data-verdict") == "PASS"
    page.context.close()


# -- the Release Details page --------------------------------------------------------


def test_release_details_show_the_api_numbers(browser: Browser) -> None:
    page = signed_in(browser, "/?project=3&environment=production")
    page.click(f'#releases-table a.release-link:text-is("{BAD}")')
    wait_ready(page)
    assert urlsplit(page.url).path == f"/releases/3/{quote(BAD, safe='')}"
    q = query_of(page)
    assert q == {"project": "3", "environment": "production"}
    data = browser.demo.api("ReleaseDetails", release_variables("3", BAD, q))
    health = data["release"]["health"]
    checked = assert_numbers_match(page, data)
    buckets = len(health["sessionSeries"]["intervals"])
    # Cards, gate checks, the crash-free table (6 per bucket), statuses (5 + total and 5
    # per bucket), the comparison and the splits: well over a few hundred numbers.
    assert checked > 11 * buckets
    # Statuses add up as the API says: healthy + errored + abnormal + crashed + unhandled.
    s = health["sessionsByStatus"]
    assert sum(int(s[k]) for k in ("healthy", "errored", "abnormal", "crashed", "unhandled")) == int(
        s["total"]
    )
    # The bad release: failing gate, worse than its previous release.
    assert (
        page.get_attribute(".gate-verdict [data-verdict]", "data-verdict")
        == health["gate"]["verdict"]
        == "FAIL"
    )
    assert page.inner_text(".gate-rule") == health["gate"]["rule"]
    comparison = health["comparison"]
    assert comparison["verdict"] == "WORSE"
    assert page.get_attribute(".comparison-verdict [data-comparison]", "data-comparison") == "WORSE"
    assert page.inner_text(".comparison-verdict a") == comparison["target"]["release"]["version"]
    # Back to the list with the same state.
    page.go_back()
    wait_ready(page)
    assert query_of(page) == {"project": "3", "environment": "production"}
    assert page.locator("#releases-table").is_visible()
    page.context.close()


# -- sign-in -------------------------------------------------------------------------


def test_sign_in_errors_sign_out_and_the_token_stays_out_of_storage(browser: Browser) -> None:
    token = browser.demo.token
    page = browser.page()
    start = len(browser.requests)
    page.goto(f"{browser.demo.url}/")
    page.wait_for_selector("#sign-in:not([hidden])")
    page.fill("#token", "rh_not-a-real-token")
    page.click("#sign-in-form button")
    page.wait_for_selector("#sign-in-error:not(:empty)")
    assert "not accepted" in page.inner_text("#sign-in-error")
    assert page.locator("#releases-table").count() == 0

    page.fill("#token", token)
    page.click("#sign-in-form button")
    page.wait_for_selector("#releases-table")
    wait_ready(page)
    assert page.input_value("#token") == ""
    storage = page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert token not in storage
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["relhealth_session"]
    assert cookies[0]["httpOnly"] and cookies[0]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""

    page.click("#sign-out")
    page.wait_for_selector("#sign-in:not([hidden])")
    assert page.locator("#releases-table").count() == 0
    page.reload()
    page.wait_for_selector("#sign-in:not([hidden])")  # the server forgot the session

    # The fragment form: exchanged, then removed from the address bar.
    page.goto(f"{browser.demo.url}/?period=7d#token={token}")
    wait_ready(page)
    assert page.url == f"{browser.demo.url}/?period=7d"
    assert page.locator("#releases-table").is_visible()
    assert token not in page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    urls = browser.requests[start:]
    assert any("/graphql?" in u for u in urls)
    assert not [u for u in urls if token in u or quote(token) in u]
    page.context.close()


# -- offline, accessibility, screenshots ---------------------------------------------


def test_pages_make_no_request_beyond_relhealth(browser: Browser) -> None:
    before = len(browser.requests)
    page = signed_in(browser, "/?project=3&environment=production")
    page.click(f'#releases-table a.release-link:text-is("{BAD}")')
    wait_ready(page)
    assert page.locator("#crash-free-data").count() == 1
    urls = browser.requests[before:]
    assert urls and all(urlsplit(u).hostname == "127.0.0.1" for u in urls)
    # Every GraphQL request is a persisted-query GET (the hash, never the text).
    graphql = [u for u in urls if urlsplit(u).path == "/graphql"]
    assert graphql and all("persistedQuery" in u and "query=" not in u for u in graphql)
    assert browser.blocked == []
    page.context.close()


@pytest.fixture(scope="module")
def axe_script() -> Path:
    return npm_dir(AXE, "the dashboard's accessibility check") / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Any, axe_script: Path) -> list[Any]:
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_no_serious_accessibility_violation(browser: Browser, axe_script: Path, dark: bool) -> None:
    # Injecting axe is an inline script: this context alone bypasses the CSP for it.
    page = signed_in(browser, "/?project=3&environment=production", dark=dark, bypass_csp=True)
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == (
        "dark" if dark else "light"
    )
    for summary in page.locator("details.chart-details summary").all():
        summary.click()  # the charts' tables too
    assert serious_violations(page, axe_script) == []
    page.click(f'#releases-table a.release-link:text-is("{BAD}")')
    wait_ready(page)
    for summary in page.locator("details.chart-details summary").all():
        summary.click()
    assert serious_violations(page, axe_script) == []
    # The toggle flips the theme, and that one is accessible too.
    page.click("#theme-toggle")
    assert page.evaluate("getComputedStyle(document.documentElement).colorScheme") == (
        "light" if dark else "dark"
    )
    assert serious_violations(page, axe_script) == []
    page.goto(f"{browser.demo.url}/")
    wait_ready(page)
    assert serious_violations(page, axe_script) == []
    page.context.close()


@pytest.mark.parametrize("width", [360, 1440])
def test_screenshots(browser: Browser, width: int) -> None:
    page = signed_in(browser, "/?project=3&environment=production", width=width)
    # Readable at this width: nothing but the tables' own scroll regions is wider.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"dashboard-releases-{width}.png")
    page.click(f'#releases-table a.release-link:text-is("{BAD}")')
    wait_ready(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"dashboard-release-{width}.png")
    page.context.close()


def test_keyboard_reaches_the_controls_and_a_release(browser: Browser) -> None:
    page = signed_in(browser, "/?project=3&environment=production")
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                "document.activeElement.id || document.activeElement.className || document.activeElement.tagName"
            )
        )
        if page.evaluate("document.activeElement.classList.contains('release-link')"):
            break
    assert {"pick-project", "pick-environment", "pick-period", "pick-sort"} <= set(seen)
    assert page.evaluate("document.activeElement.classList.contains('release-link')")
    page.keyboard.press("Enter")
    wait_ready(page)
    assert urlsplit(page.url).path.startswith("/releases/3/")
    page.context.close()


def test_empty_and_error_states(browser: Browser) -> None:
    page = signed_in(browser, "/releases/3/no-such-release?environment=production")
    assert "has no release no-such-release" in page.inner_text("#view .state-empty")
    # A project id the API refuses: the page shows the GraphQL error's own message.
    r = httpx.post(
        f"{browser.demo.url}/graphql",
        json={
            "query": browser.demo.documents["ReleaseDetails"],
            "variables": release_variables("nonsense", "v1", {}),
        },
        headers={"Authorization": f"Bearer {browser.demo.token}"},
    )
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    page.goto(f"{browser.demo.url}/releases/nonsense/v1")
    wait_ready(page)
    assert page.inner_text("#view .state-error .error-message") == error["message"]
    # A period without sessions: the empty state, not an empty table.
    page.goto(f"{browser.demo.url}/?environment=development&period=1h")
    wait_ready(page)
    data = browser.demo.api(
        "ReleasesPage", releases_variables({"environment": "development", "period": "1h"})
    )
    if not data["organization"]["health"]["releases"]["nodes"]:
        assert page.locator("#view .state-empty").count() == 1
        assert page.locator("#releases-table").count() == 0
    page.context.close()
