"""`ReleaseHealth.gate` batches: the statements of a page of releases asking a plain gate
and a dimension-filtered gate do not grow with the number of releases."""

from __future__ import annotations

from typing import Any

from storage import gates
from storage.engine import StatementCounter
from tests.backend_support import WEB, backend, session, sid, ts

AT = "2021-01-14T12:30:00Z"


async def test_gate_verdicts_do_not_grow_with_releases(make_app: Any, database_url: str) -> None:
    b = await backend(make_app, database_url)
    await b.write(
        *[
            session(WEB, f"r{i:02d}", ts("2021-01-14T10:00:00Z") - 600 * i, user=f"u{i}", sid=sid(i))
            for i in range(40)
        ]
    )
    engine = b.app.services.engine
    await gates.create(engine, b.acme, WEB, gates.GateRule(crash_free_sessions_target=99, min_sessions=1))
    await gates.create(
        engine,
        b.acme,
        WEB,
        gates.GateRule(environment="production", dimension="os.name", dimension_value="iOS", min_sessions=1),
    )

    async def count(n: int) -> tuple[int, list[Any]]:
        query = f"""{{ project(id: "1") {{ health(scope: {{window: {{period: LAST_24_HOURS}}, at: "{AT}"}}) {{
          releases(first: {n}) {{ nodes {{ all: gate {{ verdict sessions }} prod: gate(environment: "production") {{ verdict sessions }} }} }} }} }} }}"""

        async def ask() -> dict[str, Any]:
            r = await b.app.client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {b.token}"}
            )
            body: dict[str, Any] = r.json()
            assert "errors" not in body, body
            return body

        await ask()  # the token and projects are then cached (storage/read_cache.py)
        counter = StatementCounter(engine)
        try:
            body = await ask()
        finally:
            counter.close()
        return counter.count, body["data"]["project"]["health"]["releases"]["nodes"]

    counts = {}
    for n in (1, 30):
        counts[n], nodes = await count(n)
        assert len(nodes) == n
        assert all(node["all"] == {"verdict": "PASS", "sessions": 1} for node in nodes)
        # No iOS sessions: below the minimum of one session.
        assert all(node["prod"] == {"verdict": "INSUFFICIENT_DATA", "sessions": 0} for node in nodes)
    assert counts[1] == counts[30] > 0, counts
