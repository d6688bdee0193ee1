"""One bucket's duration bins (`storage.sketch`) packed into one blob.

v1 kept one `fact_duration` row per (granularity, series, bucket, bin): about 25 rows per
hour bucket and 57 per day bucket on the medium benchmark, each carrying its whole key.
Here a bucket's bins are one `fact_sketch` row of kind `DURATION_BINS`, merged by the
same read-modify-write as the distinct-count sketches (`storage.sql.sketches`).

Layout (little-endian): byte 0 the format (1: 32-bit counts, 2: 64-bit counts, for a
bucket holding 2**32 durations or more in one bin), bytes 1-4 the number of bins `n`, then
`n` bins as uint16 in ascending order (`storage.sketch` bins of durations up to 2**32 s
stay below 4,000), then `n` counts. 6 bytes per bin, against about 30 for a v1 row.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

#: The `fact_sketch.kind` of packed duration bins: next to `storage.types.Kind` (0-7),
#: which are distinct-count sets. Stored: never renumber.
DURATION_BINS: Final = 8

_U16: Final = np.dtype("<u2")
_WIDTHS: Final[dict[int, np.dtype[Any]]] = {1: np.dtype("<u4"), 2: np.dtype("<u8")}
_HEADER: Final = 5
_PACK: Final = {1: "I", 2: "Q"}


def encode(bins: Mapping[int, int], into: bytes | None = None) -> bytes:
    """The blob of `bins` (bin -> count), added to the stored blob `into` if any."""
    merged: Mapping[int, int] = bins
    if into is not None:
        stored = decode(into)  # a new dict: added into in place
        for b, n in bins.items():
            stored[b] = stored.get(b, 0) + n
        merged = stored
    keys = sorted(k for k, n in merged.items() if n)
    if keys and (keys[0] < 0 or keys[-1] > 0xFFFF):
        raise ValueError("duration bin out of range")
    counts = [merged[k] for k in keys]
    fmt = 1 if not counts or max(counts) < 2**32 else 2
    # struct, not numpy: most buckets hold a few bins, where numpy's per-call overhead
    # cost several times the packing (a bulk import encodes one blob per touched bucket).
    n = len(keys)
    return struct.pack(f"<BI{n}H{n}{_PACK[fmt]}", fmt, n, *keys, *counts)


def arrays(blob: bytes) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """(bins, counts) of a blob, as arrays over its bytes (no copy)."""
    width = _WIDTHS.get(blob[0])
    if width is None:
        raise ValueError(f"unknown duration bins format {blob[0]}")
    n = int.from_bytes(blob[1:_HEADER], "little")
    bins = np.frombuffer(blob, dtype=_U16, count=n, offset=_HEADER)
    counts = np.frombuffer(blob, dtype=width, count=n, offset=_HEADER + 2 * n)
    return bins, counts


def decode(blob: bytes) -> dict[int, int]:
    bins, counts = arrays(blob)
    return dict(zip(bins.tolist(), counts.tolist(), strict=True))


class BinsSum:
    """Adds the bins of many blobs (one group of a read): vectorized, one dict at the end."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []  # type: ignore[type-arg]

    def add(self, blob: bytes) -> None:
        self._parts.append(arrays(blob))

    def bins(self) -> dict[int, int]:
        if not self._parts:
            return {}
        if len(self._parts) == 1:
            bins, counts = self._parts[0]
            return dict(zip(bins.tolist(), counts.tolist(), strict=True))
        bins = np.concatenate([p[0] for p in self._parts])
        counts = np.concatenate([p[1].astype(np.uint64) for p in self._parts])
        order = np.argsort(bins, kind="stable")
        bins, counts = bins[order], counts[order]
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        sums = np.add.reduceat(counts, starts)
        return dict(zip(bins[starts].tolist(), sums.tolist(), strict=True))
