"""The loader behind `Release` entity references."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from storage.protocol import Store
from storage.types import ProjectRelease

#: Most (project, release) pairs looked up by one statement.
RELEASE_SEEN_BATCH = 1000


class ReleaseSeenLoader(DataLoader[ProjectRelease, bool]):
    """Whether a (project, release) ever appeared in session data: one statement for any
    number of pairs (federation resolves `Release` references through it). Callers check
    the project belongs to the caller's organization first."""

    def __init__(self, store: Store) -> None:
        async def load(pairs: Sequence[ProjectRelease]) -> list[bool]:
            seen = await store.series([p for p, _ in pairs], releases=[r for _, r in pairs])
            found = {(s.project_id, s.release) for s in seen}
            return [pair in found for pair in pairs]

        # Bounded batches keep the IN lists within every driver's parameter limit (SQLite
        # and asyncpg allow about 32k) however many references a gateway sends.
        super().__init__(load_fn=load, max_batch_size=RELEASE_SEEN_BATCH)
