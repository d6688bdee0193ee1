"""Ingest outcomes: counts per project and hour of receipt, and all-time totals."""

from __future__ import annotations

from storage.types import HOUR, OutcomeIncrement, WriteBatch
from tests.store_contract.conftest import API, SHOP, WEB
from tests.store_contract.support import T0


async def _outcomes(store):
    await store.apply(
        [
            WriteBatch(
                outcomes=[
                    OutcomeIncrement(WEB, "session", "accepted", "", T0 + 10),
                    OutcomeIncrement(WEB, "session", "accepted", "", T0 + 3599.9, quantity=2),
                    OutcomeIncrement(WEB, "session", "dropped", "too_old", T0 + HOUR),
                    OutcomeIncrement(SHOP, "sessions", "accepted", "", T0 + 5, quantity=4),
                ]
            ),
            WriteBatch(outcomes=[OutcomeIncrement(WEB, "session", "accepted", "", T0 + 2 * HOUR)]),
        ]
    )
    # A second call adds to existing hours.
    await store.apply(
        [WriteBatch(outcomes=[OutcomeIncrement(SHOP, "sessions", "accepted", "", T0, quantity=3)])]
    )


async def test_outcomes_per_hour(subject):
    await _outcomes(subject.store)
    s = subject.store
    assert await s.outcomes([WEB]) == [
        (WEB, T0, "session", "accepted", "", 3),
        (WEB, T0 + HOUR, "session", "dropped", "too_old", 1),
        (WEB, T0 + 2 * HOUR, "session", "accepted", "", 1),
    ]
    assert await s.outcomes([WEB], start=T0 + HOUR) == [
        (WEB, T0 + HOUR, "session", "dropped", "too_old", 1),
        (WEB, T0 + 2 * HOUR, "session", "accepted", "", 1),
    ]
    assert await s.outcomes([WEB], start=T0 + HOUR, end=T0 + 2 * HOUR) == [
        (WEB, T0 + HOUR, "session", "dropped", "too_old", 1)
    ]
    assert await s.outcomes([SHOP, API, WEB], end=T0 + 1) == [
        (WEB, T0, "session", "accepted", "", 3),
        (SHOP, T0, "sessions", "accepted", "", 7),
    ]
    assert await s.outcomes([API]) == []
    assert await s.outcomes([]) == []


async def test_outcome_totals(subject):
    await _outcomes(subject.store)
    assert sorted(await subject.store.outcome_totals()) == [
        (WEB, "session", "accepted", "", 4),
        (WEB, "session", "dropped", "too_old", 1),
        (SHOP, "sessions", "accepted", "", 7),
    ]
