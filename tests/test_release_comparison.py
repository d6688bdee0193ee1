"""Release comparison end to end (issue 10 section 1): sessions written to a real store,
numbers worked out by hand, GraphQL and REST answering the same, verdicts, the volume
guard, the dimension filter, bad input, and flat statements for a page."""

from __future__ import annotations

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.engine import StatementCounter
from storage.types import (
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    ClientDimensions,
    SessionIncrement,
    WriteBatch,
)
from tests.test_comparison_stats import hybrid, quadratic_wilson
from tests.test_graphql_v2 import ANDROID, DAY, HOUR, IOS, NOW, _code, _data


def _users(release, users, each, crashed_users, crashes_each, ago, *, env="production"):
    """`users` users with `each` sessions; users 0, 2, 4, ... (iOS; odd ones Android) are
    the first `crashed_users` to crash, `crashes_each` sessions each."""
    out = []
    crashers = [i for i in range(users) if i % 2 == 0][:crashed_users]
    for i in range(users):
        crashed = crashes_each if i in crashers else 0
        dims: ClientDimensions = IOS if i % 2 == 0 else ANDROID
        out.append(
            SessionIncrement(
                project_id=1,
                release=release,
                environment=env,
                started=NOW - ago,
                started_count=each,
                crashed=crashed,
                errored_preaggr=crashed,
                user=f"{release}-u{i}",
                user_tags=USER_SEEN | ((USER_ERRORED | USER_CRASHED) if crashed else 0),
                dimensions=dims,
            )
        )
    return out


#: In the 24 h before NOW: web@1 400 sessions of 40 users, 4 users crashed once each;
#: web@2 300 sessions of 30 users, 10 users crashed 3 times each; web@3 50 sessions of 10
#: users, none crashed. First seen: web@1 two days ago, web@2 2 h ago, web@3 1 h ago.
SESSIONS = [
    *_users("web@1", 1, 1, 0, 0, 2 * DAY),
    *_users("web@1", 40, 10, 4, 1, 2 * HOUR),
    *_users("web@2", 30, 10, 10, 3, 2 * HOUR),
    *_users("web@3", 10, 5, 0, 0, HOUR),
]

FIELDS = """kind verdict confidence minSessions minUsers
  subject { release { version } sessions crashedSessions erroredSessions abnormalSessions
            unhandledSessions users crashedUsers projectSessions }
  target { release { version } sessions crashedSessions erroredSessions abnormalSessions
           unhandledSessions users crashedUsers projectSessions }
  rates { metric value baseline delta interval { low high } baselineInterval { low high }
          deltaInterval { low high } verdict }"""


@pytest.fixture
async def api(make_app, database_url):
    app = await make_app(Settings(database_url=database_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    await app.services.store.apply([WriteBatch(SESSIONS)])
    headers = {"Authorization": f"Bearer {token}"}

    async def graphql(version: str, against: str, extra: str = "", scope: str = "") -> dict:
        q = """{ release(project: "1", version: "%s") { health(scope: {window: {period: LAST_24_HOURS} %s}) {
                 comparison(against: %s %s) { %s } } } }""" % (version, scope, against, extra, FIELDS)
        r = await app.client.post("/graphql", json={"query": q}, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()

    async def rest(version: str, **params: str) -> tuple[int, dict]:
        url = f"/api/0/organizations/acme/releases/{version}/comparison/"
        r = await app.client.get(url, params={"project": "1", **params}, headers=headers)
        return r.status_code, r.json()

    graphql.rest = rest  # type: ignore[attr-defined]
    graphql.app = app  # type: ignore[attr-defined]
    graphql.headers = headers  # type: ignore[attr-defined]
    return graphql


def _comparison(body: dict) -> dict:
    return _data(body)["release"]["health"]["comparison"]


def _rates(c: dict) -> dict:
    return {r["metric"]: r for r in c["rates"]}


def _same_as_rest(c: dict, rest: dict) -> None:
    for side in ("subject", "target"):
        shown = {k: v for k, v in c[side].items() if k != "release"}
        assert {k: rest[side][k] for k in shown} == shown
        assert (c[side]["release"] or {}).get("version") == rest[side]["release"]
    for key in ("rates", "verdict", "kind", "confidence", "minSessions", "minUsers"):
        assert rest[key] == c[key], key


async def test_against_the_previous_release_worked_out_by_hand(api):
    c = _comparison(await api("web@2", "{previousRelease: true}"))
    assert c["kind"] == "PREVIOUS_RELEASE" and c["target"]["release"] == {"version": "web@1"}
    assert c["subject"] == {
        "release": {"version": "web@2"},
        "sessions": 300,
        "crashedSessions": 30,
        "erroredSessions": 30,
        "abnormalSessions": 0,
        "unhandledSessions": 0,
        "users": 30,
        "crashedUsers": 10,
        "projectSessions": 750,  # 400 + 300 + 50
    }
    assert (c["target"]["sessions"], c["target"]["crashedSessions"], c["target"]["users"]) == (400, 4, 40)
    rates = _rates(c)
    cfs = rates["CRASH_FREE_SESSIONS"]
    assert (cfs["value"], cfs["baseline"]) == (pytest.approx(90.0), pytest.approx(99.0))  # 270/300, 396/400
    assert cfs["delta"] == pytest.approx(-9.0)
    d, low, high = hybrid(270, 300, 396, 400)
    assert (cfs["deltaInterval"]["low"], cfs["deltaInterval"]["high"]) == pytest.approx(
        (low * 100, high * 100)
    )
    assert (cfs["interval"]["low"], cfs["interval"]["high"]) == pytest.approx(
        tuple(100 * b for b in quadratic_wilson(270, 300))
    )
    assert high < 0 and cfs["verdict"] == "WORSE"
    cfu = rates["CRASH_FREE_USERS"]  # 20/30 against 36/40
    assert (cfu["value"], cfu["baseline"]) == (pytest.approx(200 / 3), pytest.approx(90.0))
    assert hybrid(20, 30, 36, 40)[2] < 0 and cfu["verdict"] == "WORSE"
    assert rates["ERRORED_SESSIONS"]["verdict"] == "WORSE"  # 10 % against 1 %
    assert rates["ABNORMAL_SESSIONS"]["verdict"] == "NO_SIGNIFICANT_DIFFERENCE"  # 0 against 0
    adoption = rates["ADOPTION"]  # 300/750 against 400/750
    assert (adoption["value"], adoption["baseline"]) == (pytest.approx(40.0), pytest.approx(400 / 7.5))
    assert c["verdict"] == "WORSE"
    status, rest = await api.rest("web@2", against="previous")
    assert status == 200, rest
    _same_as_rest(c, rest)
    # the release's numbers are the sessions endpoint's
    r = await api.app.client.get(
        "/api/0/organizations/acme/sessions/",
        params=[
            ("project", "1"),
            ("statsPeriod", "24h"),
            ("query", "release:web@2"),
            ("field", "sum(session)"),
            ("field", "crash_free_rate(session)"),
            ("field", "crash_free_rate(user)"),
        ],
        headers=api.headers,
    )
    totals = r.json()["groups"][0]["totals"]
    assert totals["sum(session)"] == c["subject"]["sessions"]
    assert totals["crash_free_rate(session)"] * 100 == pytest.approx(cfs["value"])
    assert totals["crash_free_rate(user)"] * 100 == pytest.approx(cfu["value"])
    # the other way round, against a named release
    back = _comparison(await api("web@1", '{release: "web@2"}'))
    assert back["verdict"] == "BETTER" and back["kind"] == "RELEASE"
    status, rest = await api.rest("web@1", against="release:web@2")
    _same_as_rest(back, rest)


async def test_against_the_baseline(api):
    c = _comparison(await api("web@2", "{baseline: true}"))
    assert c["kind"] == "BASELINE" and c["target"]["release"] is None
    # web@1 and web@3 together: 450 sessions, 4 crashed, 50 users, 4 crashed
    assert (c["target"]["sessions"], c["target"]["crashedSessions"]) == (450, 4)
    assert (c["target"]["users"], c["target"]["crashedUsers"]) == (50, 4)
    rates = _rates(c)
    assert "ADOPTION" not in rates  # the others' share is one minus the release's
    assert rates["CRASH_FREE_SESSIONS"]["baseline"] == pytest.approx(100 * 446 / 450)
    assert c["verdict"] == "WORSE"
    status, rest = await api.rest("web@2", against="baseline")
    assert status == 200
    _same_as_rest(c, rest)


async def test_too_little_data_and_the_guard_overridden(api):
    c = _comparison(await api("web@3", "{previousRelease: true}"))  # 50 sessions, 10 users
    assert c["target"]["release"] == {"version": "web@2"}
    assert c["verdict"] == "INSUFFICIENT_DATA"
    assert {r["verdict"] for r in c["rates"]} == {"INSUFFICIENT_DATA"}
    assert _rates(c)["CRASH_FREE_SESSIONS"]["value"] == 100.0  # the numbers are still there
    lowered = _comparison(await api("web@3", "{previousRelease: true}", "minSessions: 50, minUsers: 10"))
    assert (lowered["minSessions"], lowered["minUsers"]) == (50, 10)
    assert lowered["verdict"] == "BETTER"  # 50/50 crash-free against 270/300
    status, rest = await api.rest("web@3", against="previous", minSessions="50", minUsers="10")
    _same_as_rest(lowered, rest)
    # the oldest release has no previous one
    first = _comparison(await api("web@1", "{previousRelease: true}"))
    assert first["target"]["release"] is None and first["verdict"] == "INSUFFICIENT_DATA"
    assert {r["baseline"] for r in first["rates"]} == {None}
    # a release that never sent a session is a target with nothing
    never = _comparison(await api("web@1", '{release: "web@9"}'))
    assert never["target"]["release"] is None and never["target"]["sessions"] == 0
    assert never["verdict"] == "INSUFFICIENT_DATA"


async def test_a_dimension_filter(api):
    c = _comparison(await api("web@2", "{previousRelease: true}", 'filter: {dimension: OS, value: "iOS"}'))
    # iOS: web@2 15 users (all 10 crashers), 150 sessions, 30 crashed; web@1 20 users,
    # 200 sessions, 4 crashed
    assert (c["subject"]["sessions"], c["subject"]["crashedSessions"], c["subject"]["users"]) == (150, 30, 15)
    assert (c["target"]["sessions"], c["target"]["crashedSessions"], c["target"]["users"]) == (200, 4, 20)
    assert c["subject"]["projectSessions"] == 375  # 200 + 150 + 25
    assert c["verdict"] == "INSUFFICIENT_DATA"  # 15 users < 20
    status, rest = await api.rest("web@2", against="previous", query="os.name:iOS")
    _same_as_rest(c, rest)


async def test_environments_of_the_scope(api):
    c = _comparison(await api("web@2", "{previousRelease: true}", scope='environments: ["staging"]'))
    assert c["subject"]["sessions"] == 0 and c["target"]["release"] is None
    status, rest = await api.rest("web@2", against="previous", environment="staging")
    _same_as_rest(c, rest)


@pytest.mark.parametrize("against", ["{previousRelease: false}", "{baseline: false}"])
async def test_bad_targets_are_the_callers_error(api, against):
    body = await api("web@2", against)
    assert _code(body) == "BAD_USER_INPUT", body


async def test_one_target_only(api):
    body = await api("web@2", '{release: "web@1", baseline: true}')  # @oneOf, checked by validation
    assert "exactly one key" in body["errors"][0]["message"]


async def test_bad_input_and_absence(api):
    assert _code(await api("web@2", "{baseline: true}", "minSessions: -1")) == "BAD_USER_INPUT"
    # any value is a value: one nobody sent counts nothing
    quoted = _comparison(await api("web@2", "{baseline: true}", 'filter: {dimension: OS, value: "a\\"b"}'))
    assert (quoted["subject"]["sessions"], quoted["verdict"]) == (0, "INSUFFICIENT_DATA")
    for params, status in (
        ({"against": "sideways"}, 400),
        ({"against": "previous", "minUsers": "x"}, 400),
        ({"against": "previous", "project": "2"}, 404),
        ({"against": "previous", "statsPeriod": "nonsense"}, 400),
        ({"against": "previous", "query": "(os.name:iOS"}, 400),
    ):
        code, body = await api.rest("web@2", **params)
        assert (code, set(body)) == (status, {"detail"}), (params, body)
    code, body = await api.rest("web@404", against="previous")
    assert (code, body) == (404, {"detail": "The requested resource does not exist"})
    r = await api.app.client.get(
        "/api/0/organizations/acme/releases/web@2/comparison/?project=1&against=previous"
    )
    assert r.status_code == 401


async def test_a_page_of_comparisons_costs_flat_statements(make_app, sqlite_url):
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    batch = [s for i in range(30) for s in _users(f"web@{i}", 3, 2, i % 2, 1, 600 + 60 * i)]
    await app.services.store.apply([WriteBatch(batch)])
    q = """{ project(id: "1") { health(scope: {window: {period: LAST_24_HOURS}}) {
             releases(first: %d) { nodes { release { version }
               previous: comparison(against: {previousRelease: true}) { verdict target { release { version } } rates { value } }
               baseline: comparison(against: {baseline: true}, filter: {dimension: OS, value: "iOS"}) { verdict rates { delta } } } } } } }"""
    headers = {"Authorization": f"Bearer {token}"}

    async def statements(n: int) -> int:
        counter = StatementCounter(app.services.engine)
        try:
            body = (await app.client.post("/graphql", json={"query": q % n}, headers=headers)).json()
        finally:
            counter.close()
        assert "errors" not in body, body
        assert len(body["data"]["project"]["health"]["releases"]["nodes"]) == n
        return counter.count

    await statements(1)  # warm the read caches
    assert await statements(1) == await statements(30)
