"""The README's example query answers what the README says, for the data it describes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.clock import FixedClock
from server.settings import Settings
from storage.types import USER_CRASHED, USER_ERRORED, USER_SEEN, SessionIncrement, WriteBatch

ROOT = Path(__file__).resolve().parents[1]
NOW = 1748858430.0  # 2025-06-02T10:00:30Z, the `now` of the README query


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


async def test_readme_example(make_app, sqlite_url):
    # Asked when the README's data was fresh: a server whose clock is 400 days past that
    # `now` has deleted those buckets and answers the retention error instead.
    app = await make_app(Settings(database_url=sqlite_url), FixedClock(NOW))
    await app.services.accounts.create_project("acme", "web", 1)
    token = await app.services.accounts.create_token("acme", ["org:read"])

    def s(release, user, crashed=False, sid=None):
        tags = USER_SEEN | (USER_ERRORED | USER_CRASHED if crashed else 0)
        return SessionIncrement(
            1,
            release,
            "production",
            NOW - 600,
            started_count=1,
            crashed=int(crashed),
            error_sid=sid,
            user=user,
            user_tags=tags,
        )

    # web@1.4.2: 4 sessions of users a, b, c (c crashed once); web@1.4.1: 1 session of d.
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    s("web@1.4.2", "a"),
                    s("web@1.4.2", "a"),
                    s("web@1.4.2", "b"),
                    s("web@1.4.2", "c", crashed=True, sid="00000000-0000-4000-8000-000000000001"),
                    s("web@1.4.1", "d"),
                ]
            )
        ]
    )
    query = _blocks("graphql")[0]
    expected = json.loads(_blocks("json")[0])
    r = await app.client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    body = r.json()
    # Every answer also reports its cost (README "Query cost and limits").
    assert body.pop("extensions")["cost"]["requested"] > 0
    assert body == expected
