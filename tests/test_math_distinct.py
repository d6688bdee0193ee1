"""The distinct-count codec (storage/distinct.py): exact below its capacity, unions never
sums, and an honest estimate with its error bound above."""

from __future__ import annotations

import datasketches as ds

from storage import distinct
from storage.types import USER_ANR_FOREGROUND, USER_CRASHED, USER_ERRORED, Kind


def test_small_sets_count_exactly_and_merge_as_unions() -> None:
    monday = distinct.encode(["alice", "bob", "carol"])
    tuesday = distinct.encode(["carol", "dave"])
    assert distinct.count_of(monday) == distinct.Count(3, exact=True)
    union = distinct.Union()
    union.add(monday)
    union.add(tuesday)
    # alice, bob, carol, dave: a union (4), not the sum of the days (5).
    assert union.count() == distinct.Count(4, exact=True)
    assert distinct.count_of(distinct.merge_blobs([monday, tuesday])).value == 4


def test_encode_into_a_stored_sketch_adds_only_new_members() -> None:
    stored = distinct.encode(["a", "b"])
    assert distinct.count_of(distinct.encode(["b", "c"], into=stored)) == distinct.Count(3)


def test_an_empty_union_counts_zero_and_has_no_blob() -> None:
    assert distinct.Union().count() == distinct.Count(0)
    assert distinct.Union().blob() is None


def test_exact_up_to_capacity() -> None:
    n = distinct.EXACT_UP_TO
    assert distinct.count_of(distinct.encode(f"user-{i}" for i in range(n))) == distinct.Count(n)


def test_big_sets_are_estimates_within_the_bound() -> None:
    n = 200_000
    count = distinct.count_of(distinct.encode(f"user-{i}" for i in range(n)))
    assert not count.exact
    # Four standard errors: a deterministic hash, so this cannot flake.
    assert abs(count.value - n) <= 4 * distinct.RELATIVE_STANDARD_ERROR * n


def test_user_kinds_follow_the_tags() -> None:
    assert distinct.user_kinds(0) == [Kind.USERS]
    assert distinct.user_kinds(USER_ERRORED | USER_CRASHED) == [
        Kind.USERS,
        Kind.ERRORED_USERS,
        Kind.CRASHED_USERS,
    ]
    assert distinct.user_kinds(USER_ANR_FOREGROUND) == [Kind.USERS, Kind.ANR_USERS, Kind.ANR_FOREGROUND_USERS]


def test_count_from_the_header_equals_the_library_in_both_modes() -> None:
    for n in (0, 1, 2, 5_000, 100_000):
        blob = distinct.encode(f"u{i}" for i in range(n))
        sketch = ds.compact_theta_sketch.deserialize(blob, seed=distinct.SEED)
        expected = distinct.Count(round(sketch.get_estimate()), exact=not sketch.is_estimation_mode())
        assert distinct.count_of(blob) == expected
    assert not distinct.count_of(distinct.encode(f"u{i}" for i in range(100_000))).exact
