"""A mergeable quantile sketch for session durations (`release-health.md` section 3.7).

Durations are counted in logarithmic bins (the DDSketch layout): bin `i` holds
`(γ^(i−1), γ^i]` and is represented by `2γ^i / (γ + 1)`, which is within
`RELATIVE_ACCURACY` of every value in the bin. A sketch is a plain `{bin: count}` mapping,
so merging sketches (over buckets, groups or ranges) is adding counts per bin, which SQL
can do with `SUM ... GROUP BY bin`.

The store keeps the exact count, sum, min and max beside the bins: `avg` and `max` never
come from the sketch, and `quantile` pins the extreme ranks to the exact min and max.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Final

#: Worst-case relative error of a bin's representative value (the spec allows 1 %).
RELATIVE_ACCURACY: Final = 0.005
#: Values below this (including 0) share `ZERO_BIN`: a log scale cannot reach 0, and
#: sub-microsecond session durations carry no information.
SMALLEST_VALUE: Final = 1e-6
ZERO_BIN: Final = 0

_GAMMA: Final = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA: Final = math.log(_GAMMA)
# Shift the log index so that every non-zero bin is a positive integer and bins sort in
# the same order as their values (ZERO_BIN first).
_OFFSET: Final = 1 - math.ceil(math.log(SMALLEST_VALUE) / _LOG_GAMMA)


def bin_of(seconds: float) -> int:
    """The bin counting a duration of `seconds` (finite, >= 0)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be finite and >= 0, got {seconds!r}")
    if seconds < SMALLEST_VALUE:
        return ZERO_BIN
    return max(1, math.ceil(math.log(seconds) / _LOG_GAMMA) + _OFFSET)


def bin_value(bin: int) -> float:
    """The representative duration of `bin`, in seconds."""
    if bin == ZERO_BIN:
        return 0.0
    return 2 * _GAMMA ** (bin - _OFFSET) / (_GAMMA + 1)


def bins_of(durations: Iterable[float]) -> dict[int, int]:
    bins: dict[int, int] = {}
    for seconds in durations:
        key = bin_of(seconds)
        bins[key] = bins.get(key, 0) + 1
    return bins


def merge(into: dict[int, int], other: Mapping[int, int]) -> None:
    for key, count in other.items():
        into[key] = into.get(key, 0) + count


def quantile(bins: Mapping[int, int], q: float, lo: float, hi: float) -> float | None:
    """The `q`-quantile (0..1) by linear interpolation between closest ranks.

    The sketch stands for the sorted list in which each bin's representative value is
    repeated `count` times; the interpolation of section 3.7 runs over that list by
    walking cumulative counts. `lo` and `hi` are the exact min and max: they replace the
    first and last ranks and bound the result, so a single value or all-equal values come
    back exactly. None when the sketch is empty.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q!r}")
    ordered = sorted((key, count) for key, count in bins.items() if count > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        return None
    h = (total - 1) * q
    lower_rank = math.floor(h)
    upper_rank = min(lower_rank + 1, total - 1)
    lower, upper = _values_at(ordered, total, lower_rank, upper_rank, lo, hi)
    return min(hi, max(lo, lower + (h - lower_rank) * (upper - lower)))


def _values_at(
    ordered: list[tuple[int, int]], total: int, first: int, second: int, lo: float, hi: float
) -> tuple[float, float]:
    """Values at two ranks (`first <= second`) of the expanded list, in one walk."""
    wanted = [first, second]
    found: list[float] = []
    seen = 0
    for key, count in ordered:
        seen += count
        while len(found) < 2 and wanted[len(found)] < seen:
            rank = wanted[len(found)]
            if rank == 0:
                found.append(lo)
            elif rank == total - 1:
                found.append(hi)
            else:
                found.append(min(hi, max(lo, bin_value(key))))
        if len(found) == 2:
            break
    return found[0], found[1]
