"""A bucket's duration bins packed into one `fact_sketch` row (storage/sql/durations.py):
lossless, merged by adding counts, and read back as the v1 per-bin rows were."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sqlalchemy import text

from storage import sketch
from storage.accounts import AccountStore
from storage.engine import create_engine
from storage.schema import ensure_schema
from storage.sql import durations
from storage.store import SessionStore
from storage.types import DAY, HOUR, AggregateQuery, GroupKey, Quantity, SessionIncrement, WriteBatch

NOW = 1_709_251_200
T0 = NOW - DAY


def test_round_trip_and_merge() -> None:
    blob = durations.encode({3: 2, 1500: 7, 0: 1})
    assert durations.decode(blob) == {0: 1, 3: 2, 1500: 7}
    assert len(blob) == 5 + 3 * 6  # header, then 2 + 4 bytes per bin
    merged = durations.encode({3: 1, 9: 4}, into=blob)
    assert durations.decode(merged) == {0: 1, 3: 3, 9: 4, 1500: 7}
    assert durations.decode(durations.encode({})) == {}


def test_blobs_are_the_documented_little_endian_layout() -> None:
    import numpy as np

    for bins in ({}, {0: 1}, {3: 2, 1500: 7, 0: 1}, {65535: 2**32 - 1, 7: 3}, {4: 2**40, 5: 1}):
        keys = sorted(bins)
        fmt = 1 if max(bins.values(), default=0) < 2**32 else 2
        width = "<u4" if fmt == 1 else "<u8"
        expected = (
            bytes((fmt,))
            + len(keys).to_bytes(4, "little")
            + np.asarray(keys, dtype="<u2").tobytes()
            + np.asarray([bins[k] for k in keys], dtype=width).tobytes()
        )
        assert durations.encode(bins) == expected
    # Bins whose count is zero are left out.
    assert durations.encode({3: 0, 4: 1}) == durations.encode({4: 1})


def test_counts_past_32_bits_switch_to_64_bit_counts() -> None:
    blob = durations.encode({5: 2**32 - 1})
    assert blob[0] == 1
    bigger = durations.encode({5: 1, 6: 1}, into=blob)
    assert bigger[0] == 2 and durations.decode(bigger) == {5: 2**32, 6: 1}
    # The same through the in-place addition (no new bin): the width still grows.
    same_bins = durations.encode({5: 1}, into=blob)
    assert same_bins[0] == 2 and durations.decode(same_bins) == {5: 2**32}
    assert durations.encode({5: 3}, into=same_bins) == durations.encode({5: 2**32 + 3})


def test_bins_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        durations.encode({70_000: 1})
    # The largest recordable duration (2**32 s, fold._MAX_DURATION) has a bin in range.
    assert durations.decode(durations.encode({sketch.bin_of(2.0**32): 1}))


def _numpy_blob(bins: dict[int, int]) -> bytes:
    """The layout as the module docstring gives it, built with numpy (the first encoder)."""
    keys = sorted(k for k, n in bins.items() if n)
    counts = [bins[k] for k in keys]
    fmt = 1 if not counts or max(counts) < 2**32 else 2
    width = "<u4" if fmt == 1 else "<u8"
    return (
        bytes((fmt,))
        + len(keys).to_bytes(4, "little")
        + np.asarray(keys, dtype="<u2").tobytes()
        + np.asarray(counts, dtype=width).tobytes()
    )


def test_blobs_are_byte_identical_to_the_documented_layout() -> None:
    rng = random.Random(8)
    for _ in range(300):
        bins = {
            rng.randrange(0, 4000): rng.choice([1, 7, 2**31, 2**32 + 5]) for _ in range(rng.randrange(0, 60))
        }
        # Mostly bins the blob holds (added in place), sometimes new ones (re-packed).
        held = sorted(bins) or [0]
        extra = {
            rng.choice(held) if rng.random() < 0.8 else rng.randrange(0, 4000): rng.choice([1, 50, 2**32])
            for _ in range(rng.randrange(0, 5))
        }
        blob = durations.encode(bins)
        assert blob == _numpy_blob(bins)
        merged = dict(bins)
        for k, n in extra.items():
            merged[k] = merged.get(k, 0) + n
        assert durations.encode(extra, into=blob) == _numpy_blob(merged)
        assert durations.decode(blob) == {k: n for k, n in bins.items() if n}
        got_bins, got_counts = durations.arrays(blob)
        assert dict(zip(got_bins.tolist(), got_counts.tolist(), strict=True)) == durations.decode(blob)


def test_malformed_blobs_and_counts_are_refused() -> None:
    blob = durations.encode({1: 1, 2: 2})
    with pytest.raises(ValueError):
        durations.decode(blob[:-1])  # truncated
    with pytest.raises(ValueError):
        durations.decode(b"\x07" + blob[1:])  # unknown format
    with pytest.raises(ValueError):
        durations.encode({1: -1})
    with pytest.raises(ValueError):
        durations.encode({1: 2**64})


def test_bins_sum_adds_per_bin() -> None:
    total = durations.BinsSum()
    for part in ({1: 1, 2: 2}, {2: 3, 7: 1}, {1: 2**33}):
        total.add(durations.encode(part))
    assert total.bins() == {1: 2**33 + 1, 2: 5, 7: 1}
    assert durations.BinsSum().bins() == {}


async def test_store_reads_bins_summed_over_buckets_and_groups(database_url):
    engine = create_engine(database_url)
    try:
        await ensure_schema(engine)
        await AccountStore(engine).create_project("acme", "web", 1)
        store = SessionStore(engine, now=lambda: NOW)
        values = [1.0, 1.0, 30.0, 30.0, 600.0]

        def exited(release: str, started: float, duration: float) -> SessionIncrement:
            return SessionIncrement(1, release, "production", started, started_count=1, duration=duration)

        # Two transactions into the same buckets: the second adds to the stored bins.
        await store.apply([WriteBatch([exited("a", T0, v) for v in values[:3]])])
        await store.apply(
            [WriteBatch([exited("a", T0 + HOUR, v) for v in values[3:]] + [exited("b", T0, 1.0)])]
        )
        result = await store.aggregate(
            AggregateQuery(
                project_ids=(1,),
                start=T0 - T0 % DAY,
                end=NOW + DAY,
                granularity=HOUR,
                quantities=frozenset({Quantity.DURATIONS}),
                group_by=("release",),
            )
        )
        a = result.totals[GroupKey(release="a")].durations
        assert a.bins == sketch.bins_of(values)
        assert (a.count, a.sum, a.min, a.max) == (5, 662.0, 1.0, 600.0)
        assert result.totals[GroupKey(release="b")].durations.bins == {sketch.bin_of(1.0): 1}
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT granularity, COUNT(*) FROM fact_sketch WHERE kind = 8 GROUP BY granularity")
            )
            # One row per (series, bucket): a has 2 hours (1 day), b 1 hour; minutes as hours.
            assert dict(rows.all()) == {60: 3, HOUR: 3, DAY: 2}
    finally:
        await engine.dispose()
