"""`storage.distinct.encode` into a stored sketch: the byte-level union of exact sketches
(`_added_exact`) writes exactly what the library's union writes, and hands everything
else to the library."""

from __future__ import annotations

import random

import datasketches as ds
import pytest

from storage import distinct


def _library(members: list[str], into: bytes) -> bytes:
    """What `encode` wrote before the byte-level path: the library's union."""
    sketch = ds.update_theta_sketch(distinct.LG_K, seed=distinct.SEED)
    for member in members:
        sketch.update(member)
    union = ds.theta_union(distinct.LG_K, seed=distinct.SEED)
    union.update(ds.compact_theta_sketch.deserialize(into, seed=distinct.SEED))
    union.update(sketch)
    return bytes(union.get_result().serialize())


def test_unions_are_byte_identical_to_the_library() -> None:
    rng = random.Random(8)
    for _ in range(400):
        stored = [f"user-{rng.randrange(5000)}" for _ in range(rng.choice([0, 1, 2, 3, 40, 700]))]
        into = distinct.encode(stored)
        known = stored or ["nobody"]
        new = [
            rng.choice(known) if rng.random() < 0.5 else f"new-{rng.randrange(10**9)}"
            for _ in range(rng.choice([1, 1, 2, 5, 70]))
        ]
        assert distinct.encode(new, into=into) == _library(new, into)


def test_a_stored_member_leaves_the_blob_as_it_is() -> None:
    into = distinct.encode(["a", "b", "c"])
    assert distinct.encode(["b"], into=into) is into
    single = distinct.encode(["a"])
    assert distinct.encode(["a"], into=single) is single


def test_a_new_member_is_inserted_in_hash_order() -> None:
    into = distinct.encode([f"u{i}" for i in range(100)])
    merged = distinct.encode(["someone else"], into=into)
    assert merged == _library(["someone else"], into)
    assert distinct.count_of(merged) == distinct.Count(101)
    assert distinct._added_exact(into, distinct.encode(["someone else"])) == merged


@pytest.mark.parametrize("stored_count", [distinct.EXACT_UP_TO - 1, distinct.EXACT_UP_TO])
def test_at_the_exact_limit_the_library_decides(stored_count: int) -> None:
    # Exactly EXACT_UP_TO hashes stay exact (byte-level path); one more and the union
    # estimates, which only the library does.
    into = distinct.encode([f"u{i}" for i in range(stored_count)])
    merged = distinct.encode(["the last one"], into=into)
    assert merged == _library(["the last one"], into)
    assert distinct.count_of(merged).exact is (stored_count < distinct.EXACT_UP_TO)


def test_other_layouts_go_through_the_library() -> None:
    empty = distinct.encode([])
    estimating = distinct.encode([f"u{i}" for i in range(3 * distinct.EXACT_UP_TO)])
    assert distinct._exact_hashes_at(empty) is None
    assert distinct._exact_hashes_at(estimating) is None
    for into in (empty, estimating):
        assert distinct.encode(["x", "y"], into=into) == _library(["x", "y"], into)
    many = [f"m{i}" for i in range(distinct._FEW_NEW_HASHES + 1)]
    into = distinct.encode(["a", "b"])
    assert distinct.encode(many, into=into) == _library(many, into)
