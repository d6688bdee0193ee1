"""`storage.distinct.Union` counts unions from the stored hashes: exact while every input
sketch is exact (even above one sketch's capacity), the library's estimate otherwise,
and the library's own union for layouts it does not read."""

from __future__ import annotations

import datasketches as ds
import pytest

from storage import distinct


def members(lo: int, hi: int) -> list[str]:
    return [f"user-{i}" for i in range(lo, hi)]


def union_of(*blobs: bytes) -> distinct.Count:
    u = distinct.Union()
    for blob in blobs:
        u.add(blob)
    return u.count()


def test_exact_inputs_give_an_exact_union_above_one_sketch_capacity() -> None:
    k = distinct.EXACT_UP_TO
    # Three exact days (each below capacity) of 0..k-1, k/2..3k/2-1 and k..2k-1: together
    # 0..2k-1, twice the capacity of one sketch, counted exactly.
    days = [
        distinct.encode(members(0, k - 1)),
        distinct.encode(members(k // 2, 3 * k // 2)),
        distinct.encode(members(k, 2 * k)),
    ]
    assert all(distinct.count_of(d).exact for d in days)
    assert union_of(*days) == distinct.Count(2 * k, exact=True)
    # The library's union would have estimated it.
    assert not distinct.count_of(distinct.merge_blobs(days)).exact


def test_small_unions_equal_the_library_and_the_sets() -> None:
    empty, one, few = distinct.encode([]), distinct.encode(["a"]), distinct.encode(["a", "b", "c"])
    assert union_of(empty, empty) == distinct.Count(0)
    assert union_of(empty, one) == distinct.Count(1)
    assert union_of(one, few, distinct.encode(["d"])) == distinct.Count(4)
    assert union_of(one, one) == distinct.Count(1)
    assert union_of(few) == distinct.count_of(few)


def test_an_estimating_input_makes_an_estimate_within_the_bound() -> None:
    n = 100_000
    big = distinct.encode(members(0, n))  # estimation mode
    overlap = distinct.encode(members(n - 1000, n + 9000))  # exact, 9,000 new members
    count = union_of(big, overlap)
    assert not count.exact
    want = n + 9000
    assert abs(count.value - want) <= 4 * distinct.RELATIVE_STANDARD_ERROR * want
    library = distinct.count_of(distinct.merge_blobs([big, overlap]))
    assert abs(count.value - library.value) <= 4 * distinct.RELATIVE_STANDARD_ERROR * want


def test_other_layouts_fall_back_to_the_library() -> None:
    sketch = ds.update_theta_sketch(distinct.LG_K, seed=distinct.SEED)
    for m in members(0, 100):
        sketch.update(m)
    compressed = bytes(sketch.compact().serialize(True))  # serial version 4
    assert compressed[1] == 4
    assert union_of(compressed, distinct.encode(members(50, 150))) == distinct.Count(150)


def test_a_sketch_of_another_seed_is_refused() -> None:
    other = ds.update_theta_sketch(distinct.LG_K, seed=1)
    other.update("x")
    with pytest.raises(ValueError):
        union_of(bytes(other.compact().serialize()), distinct.encode(["y"]))
