"""`release.stage:` in the sessions query (REST and GraphQL) is evaluated at the request's
`now`, the same instant `Release.adoptionStage(now:)` answers for."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.backend_support import WEB, backend, session, ts

H = ts("2021-01-10T00:00:00Z")
HOUR = 3600
PAST = "2021-01-10T02:00:00Z"  # the server clock says 2021-01-15 (backend_support.CLOCK)

SESSIONS_Q = """query($q: String!, $now: DateTime) { sessions(organization: "acme", query: {
    fields: ["sum(session)"], groupBy: ["release"], projects: ["1"], environments: ["production"],
    statsPeriod: "1d", interval: "1h", query: $q, now: $now}) {
    groups { by { release } totals { field value } } } }"""


async def test_stage_filter_uses_the_request_now(make_app, database_url):
    b = await backend(make_app, database_url)
    # A alone from H; B takes over from H + 7 h. At PAST (H + 2 h) A is adopted and B does
    # not exist yet; at the server clock every window is empty: A and B are replaced.
    await b.write(
        *[session(WEB, "A", H + 60) for _ in range(10)], *[session(WEB, "B", H + 7 * HOUR) for _ in range(10)]
    )

    stage = await b.data(
        """{ release(projectId: "1", version: "A") {
        adoptionStage(environment: "production", now: "%s") { stage } } }"""
        % PAST
    )
    assert stage["release"]["adoptionStage"] == {"stage": "ADOPTED"}

    async def rest(query: str, now: str | None) -> dict[str, int]:
        params = [
            ("project", "1"),
            ("environment", "production"),
            ("field", "sum(session)"),
            ("groupBy", "release"),
            ("statsPeriod", "1d"),
            ("interval", "1h"),
            ("query", query),
        ]
        if now is not None:
            params.append(("now", now))
        r = await b.app.client.get(
            f"/api/0/organizations/acme/sessions/?{urlencode(params)}",
            headers={"Authorization": f"Bearer {b.token}"},
        )
        assert r.status_code == 200, r.text
        return {g["by"]["release"]: g["totals"]["sum(session)"] for g in r.json()["groups"]}

    async def graphql(query: str, now: str | None) -> dict[str, float]:
        data = await b.data(SESSIONS_Q, q=query, now=now)
        return {g["by"]["release"]: g["totals"][0]["value"] for g in data["sessions"]["groups"]}

    for ask in (rest, graphql):
        assert await ask("release.stage:adopted", PAST) == {"A": 10}
        assert await ask("release.stage:replaced", PAST) == {}
        assert await ask("!release.stage:adopted", PAST) == {}
        # A day later both are replaced (the window has been empty since H + 13 h).
        later = await ask("release.stage:replaced", "2021-01-11T00:00:00Z")
        assert later == {"A": 10, "B": 10}
