"""Per-release and per-project fields batch through dataloaders: the number of SQL
statements of a request does not grow with the number of releases or projects."""

from __future__ import annotations

from storage.engine import StatementCounter
from tests.backend_support import WEB, backend, session, sid, ts

NOW = "2021-01-14T12:30:00Z"

RELEASE_FIELDS = """version
    adoptionStage(environment: "production", now: "NOW") { stage adoptedAt }
    sessionTimeBounds(now: "NOW") { sessionsLowerBound sessionsUpperBound }
    crashFreeBreakdown(start: "2021-01-10T12:30:00Z", now: "NOW") { date totalSessions crashFreeUsers }
    stats(stat: USERS, interval: "1d", start: "2021-01-10T12:27:28Z", end: "2021-01-14T12:27:28Z") {
      intervals total durationP50 totals { total healthy } }
    health(now: "NOW") { totalSessions }
    adoption(now: "NOW") { adoption }""".replace("NOW", NOW)

PROJECT_FIELDS = """id
    crashFreeRates(current: {start: "2021-01-14T06:00:00Z", end: "2021-01-14T12:00:00Z"},
                   previous: {start: "2021-01-13T06:00:00Z", end: "2021-01-13T12:00:00Z"}) {
      current previous }
    sessionsCount(start: "2021-01-14T00:00:00Z", end: "2021-01-14T12:00:00Z", environment: "production")
    releasesCount(now: "NOW")""".replace("NOW", NOW)


async def _count(b, query):
    # The first request also reads the token and the projects it names, which the
    # process then keeps (storage/read_cache.py): count a request in the steady state.
    await b.gql(query)
    counter = StatementCounter(b.app.services.engine)
    try:
        body = await b.gql(query)
    finally:
        counter.close()
    assert "errors" not in body, body
    return counter.count, body["data"]


async def test_per_release_fields_do_not_grow_with_releases(make_app, database_url):
    b = await backend(make_app, database_url)
    await b.write(
        *[
            session(
                WEB,
                f"r{i:02d}",
                ts("2021-01-14T10:00:00Z") - 600 * i,
                user=f"u{i}",
                status="crashed" if i % 4 == 0 else "exited",
                sid=sid(i),
                duration=30 + i,
            )
            for i in range(40)
        ]
    )
    counts = {}
    for n in (1, 30):
        q = f'{{ releases(projectIds: ["1"], first: {n}, now: "{NOW}") {{ nodes {{ {RELEASE_FIELDS} }} }} }}'
        counts[n], data = await _count(b, q)
        nodes = data["releases"]["nodes"]
        assert len(nodes) == n
        assert all(len(node["crashFreeBreakdown"]) == 3 for node in nodes)
        assert all(node["stats"]["totals"]["total"] == 1 for node in nodes)
    assert counts[1] == counts[30], counts


async def test_per_project_fields_do_not_grow_with_projects(make_app, database_url):
    b = await backend(make_app, database_url)
    org_query = f'{{ organization(slug: "acme") {{ projects {{ {PROJECT_FIELDS} }} }} }}'
    await b.write(session(WEB, "r", ts("2021-01-14T08:00:00Z")))
    few, data = await _count(b, org_query)
    assert len(data["organization"]["projects"]) == 2
    for pid in range(10, 20):
        await b.accounts.create_project("acme", f"p{pid}", pid)
    await b.write(*[session(pid, "r", ts("2021-01-14T08:00:00Z")) for pid in range(10, 20)])
    _, data = await _count(b, f'{{ project(id: "1") {{ {PROJECT_FIELDS} }} }}')
    assert data["project"]["sessionsCount"] == 1
    many, data = await _count(b, org_query)
    projects = data["organization"]["projects"]
    assert len(projects) == 12
    assert sum(p["sessionsCount"] for p in projects) == 11
    assert all(p["crashFreeRates"]["current"] in (100.0, None) for p in projects)
    assert few == many, (few, many)
