"""`SeriesLimit.admit` when every release and environment is known in the process: the
items pass as they are, without asking the store; a new one is still looked up and capped."""

from __future__ import annotations

from collections.abc import Iterable

from server.series_limit import TOO_MANY_RELEASES, SeriesLimit
from storage.types import OutcomeIncrement, SessionIncrement, WriteBatch

NOW = 1_750_000_000.0


class _Store:
    def __init__(self) -> None:
        self.asked: list[tuple[str, set[str]]] = []

    async def known_releases(self, project_id: int, releases: Iterable[str]) -> set[str]:
        self.asked.append(("release", set(releases)))
        return set()

    async def known_environments(self, project_id: int, environments: Iterable[str]) -> set[str]:
        self.asked.append(("environment", set(environments)))
        return set()


def _item(release: str, environment: str | None = "prod", n: int = 1) -> WriteBatch:
    return WriteBatch(
        increments=[SessionIncrement(7, release, environment, NOW - 60, started_count=1) for _ in range(n)],
        outcomes=[OutcomeIncrement(7, "session", "accepted", "", NOW, 1)],
    )


async def test_known_series_pass_without_a_store_lookup() -> None:
    store = _Store()
    limit = SeriesLimit(store, 1, 5)  # type: ignore[arg-type]
    first = [_item("a@1", n=3)]
    assert await limit.admit(7, first, NOW) == first
    assert store.asked == [("release", {"a@1"}), ("environment", {"prod"})]
    store.asked.clear()
    again = [_item("a@1", n=20), _item("a@1", None)]
    admitted = await limit.admit(7, again, NOW)
    assert admitted == again and admitted is not again
    assert store.asked == []
    # A new release is still looked up, and over the cap (1 per hour) dropped.
    mixed = [_item("a@1"), _item("b@1")]
    admitted = await limit.admit(7, mixed, NOW)
    assert store.asked == [("release", {"b@1"})]
    assert admitted[0] is mixed[0]
    assert admitted[1].increments == []
    assert [o.reason for o in admitted[1].outcomes] == [TOO_MANY_RELEASES]
