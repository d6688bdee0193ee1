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
import sys
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any, Final, Literal

import numpy as np

#: The `fact_sketch.kind` of packed duration bins: next to `storage.types.Kind` (0-7),
#: which are distinct-count sets. Stored: never renumber.
DURATION_BINS: Final = 8

_U16: Final = np.dtype("<u2")
_WIDTHS: Final[dict[int, np.dtype[Any]]] = {1: np.dtype("<u4"), 2: np.dtype("<u8")}
_HEADER: Final = 5
#: `struct` codes of the counts per format (the same widths as `_WIDTHS`).
_CODES: Final[dict[int, Literal["I", "Q"]]] = {1: "I", 2: "Q"}
_STRUCTS: dict[tuple[int, int], struct.Struct] = {}
#: The in-place merge views the blob with the machine's byte order (`memoryview.cast`).
_LITTLE_ENDIAN: Final = sys.byteorder == "little"


def encode(bins: Mapping[int, int], into: bytes | None = None) -> bytes:
    """The blob of `bins` (bin -> count), added to the stored blob `into` if any."""
    if into is not None and _LITTLE_ENDIAN:
        added = _added_in_place(bins, into)
        if added is not None:
            return added
    # `struct`, not numpy: numpy's conversions of Python lists made this most of a
    # group commit's CPU.
    merged = decode(into) if into is not None else {}
    for b, n in bins.items():
        merged[b] = merged.get(b, 0) + n
    keys = sorted(k for k, n in merged.items() if n)
    if keys and (keys[0] < 0 or keys[-1] > 0xFFFF):
        raise ValueError("duration bin out of range")
    counts = [merged[k] for k in keys]
    fmt = 1 if not counts or max(counts) < 2**32 else 2
    n = len(keys)
    try:
        return _struct(fmt, n).pack(fmt, n, *keys, *counts)
    except struct.error as exc:  # a count below 0 or past 64 bits
        raise ValueError(f"duration bin count out of range: {exc}") from None


def _added_in_place(bins: Mapping[int, int], into: bytes) -> bytes | None:
    """`into` with positive counts added: by binary search in place for the bins it
    holds, spliced in for new ones; None when a count would leave the blob's width or the
    blob is malformed, which the general path handles (the result is the same bytes).

    Live ingest adds a few durations to buckets already holding hundreds of bins:
    decoding, sorting and re-packing every bin each time cost about 100 us per bucket;
    this costs a few.
    """
    code = _CODES.get(into[0])
    if code is None:
        return None
    n = int.from_bytes(into[1:_HEADER], "little")
    width = 4 if code == "I" else 8
    end = _HEADER + n * (2 + width)
    if len(into) < end:
        return None
    out = bytearray(into[:end])
    limit = 1 << (8 * width)
    new: list[tuple[int, int, int]] = []  # (bin, count, index of the next held bin)
    with memoryview(out) as view:
        keys = view[_HEADER : _HEADER + 2 * n].cast("H")
        counts = view[_HEADER + 2 * n : end].cast(code)
        try:
            for b, c in bins.items():
                if c == 0:
                    continue
                if c < 0 or c >= limit or not 0 <= b <= 0xFFFF:
                    return None
                i = bisect_left(keys, b)
                if i < n and keys[i] == b:
                    total = counts[i] + c
                    if total >= limit:
                        return None
                    counts[i] = total
                else:
                    new.append((b, c, i))
        finally:
            keys.release()
            counts.release()
    if not new:
        return bytes(out)
    new.sort()
    key_parts: list[bytes | bytearray] = [bytes((into[0],)), (n + len(new)).to_bytes(4, "little")]
    count_parts: list[bytes | bytearray] = []
    held = 0
    counts_at = _HEADER + 2 * n
    for b, c, i in new:
        key_parts += (out[_HEADER + 2 * held : _HEADER + 2 * i], b.to_bytes(2, "little"))
        count_parts += (out[counts_at + width * held : counts_at + width * i], c.to_bytes(width, "little"))
        held = i
    key_parts.append(out[_HEADER + 2 * held : counts_at])
    count_parts.append(out[counts_at + width * held : end])
    return b"".join(key_parts + count_parts)


def _struct(fmt: int, n: int) -> struct.Struct:
    """The layout of a blob of `n` bins in format `fmt` (cached per shape)."""
    key = (fmt, n)
    layout = _STRUCTS.get(key)
    if layout is None:
        layout = struct.Struct(f"<BI{n}H{n}{_CODES[fmt]}")
        if len(_STRUCTS) < 4096:
            _STRUCTS[key] = layout
    return layout


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
    code = _CODES.get(blob[0])
    if code is None:
        raise ValueError(f"unknown duration bins format {blob[0]}")
    n = int.from_bytes(blob[1:_HEADER], "little")
    try:
        values = struct.unpack_from(f"<{n}H{n}{code}", blob, _HEADER)
    except struct.error as exc:  # shorter than its header says
        raise ValueError(f"truncated duration bins: {exc}") from None
    return dict(zip(values[:n], values[n:], strict=True))


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
