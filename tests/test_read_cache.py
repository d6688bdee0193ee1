"""Account reads that only grow (tokens, projects) are answered from process memory after
the first time, so an API request does not pay a database round trip for them; what does
not exist is never cached, and what another process creates is found at once."""

from __future__ import annotations

from storage.accounts import AccountStore
from storage.engine import StatementCounter, create_engine
from storage.read_cache import ReadCache
from storage.schema import ensure_schema


def test_entries_expire_and_the_oldest_goes_first() -> None:
    now = [100.0]
    cache: ReadCache[str, int] = ReadCache(ttl=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, 2, None)
    cache.put("c", 3)  # full: "a", the oldest, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (None, 2, 3, 2)
    now[0] += 10  # at the TTL: expired
    assert cache.get("b") is None and cache.get("c") is None and len(cache) == 0
    cache.put("d", 4)
    cache.pop("d")
    assert cache.get("d") is None


async def test_tokens_and_projects_are_read_once_and_misses_never_cached(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await ensure_schema(engine)
    counter = StatementCounter(engine)
    try:
        ours, theirs = AccountStore(engine), AccountStore(engine)  # two server processes
        project, _ = await theirs.create_project("acme", "app", 42)
        token = await theirs.create_token("acme", ["org:read"])

        assert await ours.token("rh_made_up") is None
        assert await ours.projects([42, 43]) == {42: project}
        counter.reset()
        assert await ours.token("rh_made_up") is None  # a miss asks again
        assert counter.count == 1

        counter.reset()
        first = await ours.token(token)
        assert first is not None and first.org_slug == "acme" and first.can_read()
        assert await ours.token(token) == first
        assert await ours.projects([42]) == {42: project}
        assert counter.count == 1  # the token once; the project was found before

        # Created elsewhere after our miss: found at once, then cached too.
        other, _ = await theirs.create_project("acme", "api", 43)
        counter.reset()
        assert await ours.projects([42, 43]) == {42: project, 43: other}
        assert await ours.projects([43]) == {43: other}
        assert counter.count == 1  # only 43, only once
    finally:
        counter.close()
        await engine.dispose()
