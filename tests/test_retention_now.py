"""A `now` in the past cannot bring deleted buckets back: every GraphQL field that reads
buckets judges retention against the later of its `now` and the server clock, and answers
the documented retention error (BAD_USER_INPUT) instead of zeros and nulls."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.types import DAY, HOUR, SessionIncrement, WriteBatch

CLOCK = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
#: minute 30 d, hour 100 d, day 200 d.
RETENTION = {"minute_retention_days": 30, "hour_retention_days": 100, "day_retention_days": 200}
OLD = CLOCK - 250 * DAY  # beyond every retention: deleted by the cleanup
MID = CLOCK - 150 * DAY  # hourly buckets deleted, daily kept
DAILY = "Session data is kept for 200 days; choose a range that starts within the last 200 days."
HOURLY = "Hourly data is kept for 100 days; use an interval of 1d for ranges older than that."


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


FIELDS = {
    "health": 'release(projectId: "1", version: "app@1.0") { health(now: $now) { totalSessions } }',
    "adoption": 'release(projectId: "1", version: "app@1.0") { adoption(now: $now) { adoption } }',
    "stats": 'release(projectId: "1", version: "app@1.0") { stats(stat: SESSIONS, interval: "1h", '
    "start: $start, end: $now, now: $now) { totals { total } } }",
    "crashFreeBreakdown": 'release(projectId: "1", version: "app@1.0") { '
    "crashFreeBreakdown(start: $start, now: $now) { totalSessions } }",
    "sessionsCount": 'project(id: "1") { sessionsCount(start: $start, end: $now, now: $now) }',
    "adoptionStage": 'release(projectId: "1", version: "app@1.0") { '
    'adoptionStage(environment: "production", now: $now) { stage } }',
    "crashFreeRates": 'project(id: "1") { crashFreeRates(current: {start: $start, end: $now}, '
    "previous: {start: $start, end: $now}, now: $now) { current } }",
    "releasesCount": 'project(id: "1") { releasesCount(now: $now) }',
    "releases": 'releases(projectIds: ["1"], now: $now) { totalCount }',
    "hasHealthData": 'hasHealthData(projectIds: ["1"], now: $now) { projectIds }',
    "changedReleaseAdoptions": 'changedReleaseAdoptions(projectIds: ["1"], now: $now) { version }',
    "oldestHealthData": 'oldestHealthData(releases: [{projectId: "1", version: "app@1.0"}], '
    "now: $now) { oldest }",
    "sessionsPerProject": 'sessionsPerProject(projectIds: ["1"], start: $start, end: $now, '
    "now: $now) { sessions }",
}


@pytest.fixture
async def gql(make_app, database_url):  # type: ignore[no-untyped-def]
    app = await make_app(
        Settings(database_url=database_url, retention_interval_seconds=0, **RETENTION),
        FixedClock(CLOCK),
    )
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    SessionIncrement(1, "app@1.0", "production", t, started_count=3)
                    for t in (OLD, MID, CLOCK - HOUR)
                ]
            )
        ]
    )
    deleted = await app.services.retention_task().run_once()  # the cleanup at the server clock
    assert any(deleted.values())

    async def ask(field: str, now: float, start: float) -> dict[str, object]:
        variables = {"now": iso(now)}
        declared = "$now: DateTime!"
        if "$start" in FIELDS[field]:
            variables["start"] = iso(start)
            declared += ", $start: DateTime!"
        query = "query(%s) { %s }" % (declared, FIELDS[field])
        r = await app.client.post(
            "/graphql/v1",
            headers={"Authorization": f"Bearer {token}"},
            json={"query": query, "variables": variables},
        )
        body: dict[str, object] = r.json()
        return body

    return ask


@pytest.mark.parametrize("field", sorted(FIELDS))
async def test_past_now_beyond_retention_is_the_retention_error(gql, field):
    body = await gql(field, now=OLD + HOUR, start=OLD - HOUR)
    errors = body.get("errors")
    assert errors, body
    assert [(e["message"], e["extensions"]["code"]) for e in errors] == [(DAILY, "BAD_USER_INPUT")]
    # Daily buckets kept, hourly ones gone: these fields read hours, so the hourly message.
    body = await gql(field, now=MID + HOUR, start=MID - HOUR)
    if field in ("hasHealthData", "oldestHealthData"):  # 90-day windows, from MID - 90 d
        assert body["errors"][0]["message"] == DAILY  # type: ignore[index]
    else:
        assert [e["message"] for e in body["errors"]] == [HOURLY], body  # type: ignore[union-attr]
    # At the server clock everything is retained, and answers.
    body = await gql(field, now=CLOCK, start=CLOCK - 2 * HOUR)
    assert "errors" not in body, body
