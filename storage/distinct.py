"""Distinct-count sets (users, users per status, errored sessions) as mergeable sketches.

A set of one (series, bucket) is stored as a serialized compact Apache DataSketches Theta
sketch (`datasketches` on PyPI, the library Druid and Sentry's peers use). A Theta sketch
keeps the 64-bit hashes of its members while there are few of them, so its count is exact
(`is_estimation_mode()` is False) up to at least `2**LG_K` members; above that it keeps the
`2**LG_K` smallest hashes and estimates with a relative standard error of
`1 / sqrt(2**LG_K)` (0.78 % for `LG_K = 14`). Sketches of different buckets, series and
groups merge into the sketch of their union, so a distinct count over a range stays a
union over the range (`release-health.md` 2.2), never a sum.

The hash seed and `LG_K` are part of the on-disk format: sketches written with another
seed cannot be merged, and changing either needs a migration of every stored sketch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import datasketches as ds

from storage.types import (
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_UNHANDLED,
    Kind,
)

#: log2 of the nominal number of hashes a sketch keeps in estimation mode.
LG_K: Final = 14
#: Counts are exact at least up to this many members (the sketch keeps every hash).
EXACT_UP_TO: Final = 2**LG_K
#: Relative standard error of an estimated count (one standard deviation).
RELATIVE_STANDARD_ERROR: Final = 1 / (2 ** (LG_K / 2))
#: The hash seed (the library's default). Never change it: see the module docstring.
SEED: Final = 9001


#: The user kinds after USERS and the user tags (`storage.types.USER_*`) that put a user in
#: them, in the order of `storage.types.Users` fields after `all`.
USER_TAG_KINDS: Final[tuple[tuple[Kind, int], ...]] = (
    (Kind.ERRORED_USERS, USER_ERRORED),
    (Kind.CRASHED_USERS, USER_CRASHED),
    (Kind.ABNORMAL_USERS, USER_ABNORMAL),
    (Kind.UNHANDLED_USERS, USER_UNHANDLED),
    (Kind.ANR_USERS, USER_ANR_FOREGROUND | USER_ANR_BACKGROUND),
    (Kind.ANR_FOREGROUND_USERS, USER_ANR_FOREGROUND),
)


def user_kinds(tags: int) -> list[Kind]:
    """The kinds a user with these tags (OR of `USER_*`) belongs to; always USERS."""
    return [Kind.USERS, *(kind for kind, mask in USER_TAG_KINDS if tags & mask)]


@dataclass(frozen=True, slots=True)
class Count:
    """A distinct count: `value` members, exact unless `exact` is False (then an
    estimate with relative standard error `RELATIVE_STANDARD_ERROR`)."""

    value: int
    exact: bool = True


def encode(members: Iterable[str], into: bytes | None = None) -> bytes:
    """The serialized sketch of `members`, united with the stored sketch `into` if any."""
    sketch = ds.update_theta_sketch(LG_K, seed=SEED)
    for member in members:
        sketch.update(member)
    if into is None:
        return bytes(_trimmed(sketch.compact()).serialize())
    union = ds.theta_union(LG_K, seed=SEED)
    union.update(ds.compact_theta_sketch.deserialize(into, seed=SEED))
    union.update(sketch)
    return bytes(union.get_result().serialize())


def merge_blobs(blobs: Iterable[bytes]) -> bytes:
    """The serialized sketch of the union of serialized sketches."""
    union = ds.theta_union(LG_K, seed=SEED)
    for blob in blobs:
        union.update(ds.compact_theta_sketch.deserialize(blob, seed=SEED))
    return bytes(union.get_result().serialize())


def count_of(blob: bytes) -> Count:
    """The count of one serialized sketch."""
    return _count(ds.compact_theta_sketch.deserialize(blob, seed=SEED))


class Union:
    """Accumulates serialized sketches; `count()` is the distinct count of their union."""

    __slots__ = ("_only", "_union")

    def __init__(self) -> None:
        self._union: ds.theta_union | None = None
        self._only: bytes | None = None

    def add(self, blob: bytes) -> None:
        # A group of one sketch (one series and bucket: most series points) needs no union.
        if self._union is None and self._only is None:
            self._only = blob
            return
        if self._union is None:
            self._union = ds.theta_union(LG_K, seed=SEED)
            assert self._only is not None
            self._union.update(ds.compact_theta_sketch.deserialize(self._only, seed=SEED))
            self._only = None
        self._union.update(ds.compact_theta_sketch.deserialize(blob, seed=SEED))

    def count(self) -> Count:
        if self._union is not None:
            return _count(self._union.get_result())
        if self._only is not None:
            return count_of(self._only)
        return Count(0)

    def blob(self) -> bytes | None:
        """The union as one serialized sketch (None when nothing was added)."""
        if self._union is not None:
            return bytes(self._union.get_result().serialize())
        return self._only


def _trimmed(sketch: ds.compact_theta_sketch) -> ds.compact_theta_sketch:
    # An update sketch in estimation mode may hold up to ~2k hashes; a pass through a
    # union keeps only the k smallest, so no stored sketch is bigger than it must be.
    if not sketch.is_estimation_mode():
        return sketch
    union = ds.theta_union(LG_K, seed=SEED)
    union.update(sketch)
    return union.get_result()


def _count(sketch: ds.compact_theta_sketch) -> Count:
    if sketch.is_estimation_mode():
        return Count(round(sketch.get_estimate()), exact=False)
    return Count(int(sketch.num_retained), exact=True)
