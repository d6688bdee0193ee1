"""Writes are atomic: a failing call counts nothing; import chunks count once."""

from __future__ import annotations

import pytest

from storage.store import UnknownProjectError
from storage.types import DAY, GroupKey, OutcomeIncrement, Quantity, WriteBatch
from tests.store_contract.conftest import WEB
from tests.store_contract.support import T0, inc, query, sid, write

COUNTERS = {Quantity.COUNTERS}


async def _started(store):
    result = await store.aggregate(query(T0, T0 + DAY, quantities=COUNTERS))
    return result.totals[GroupKey()].counters.started if result.totals else 0


async def test_unknown_project_fails_the_whole_call(subject):
    await write(subject.store, inc(T0, started_count=1))
    with pytest.raises(UnknownProjectError):
        await subject.store.apply(
            [
                WriteBatch(
                    [inc(T0, started_count=1, sid=sid(1))],
                    [OutcomeIncrement(WEB, "session", "accepted", "", T0)],
                ),
                WriteBatch([inc(T0, started_count=1, project=999)]),
            ]
        )
    assert await _started(subject.store) == 1
    errors = await subject.store.aggregate(query(T0, T0 + DAY, quantities={Quantity.ERRORS}))
    assert errors.totals == {}
    assert await subject.store.outcomes([WEB]) == []


async def test_an_import_chunk_counts_once(subject):
    chunk = (0, "import-face", 1, 10)
    await write(subject.store, inc(T0, started_count=1), import_chunk=chunk)
    with pytest.raises(Exception):  # noqa: B017 - each store raises its own error type
        await write(subject.store, inc(T0, started_count=1), import_chunk=(0, "import-face", 1, 12))
    assert await _started(subject.store) == 1
    # Other lines, other imports and other scopes count.
    await write(subject.store, inc(T0, started_count=2), import_chunk=(0, "import-face", 11, 20))
    await write(subject.store, inc(T0, started_count=4), import_chunk=(0, "other", 1, 10))
    await write(subject.store, inc(T0, started_count=8), import_chunk=(subject.acme, "import-face", 1, 10))
    assert await _started(subject.store) == 15


async def test_batches_of_one_call_add_up(subject):
    await subject.store.apply(
        [
            WriteBatch([inc(T0, started_count=1)]),
            WriteBatch([inc(T0 + 5, started_count=2, crashed=1)]),
            WriteBatch(),
        ]
    )
    result = await subject.store.aggregate(query(T0, T0 + DAY, quantities=COUNTERS))
    assert (result.totals[GroupKey()].counters.started, result.totals[GroupKey()].counters.crashed) == (3, 1)
