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
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
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
    return quantiles(bins, (q,), lo, hi)[0]


def quantiles(bins: Mapping[int, int], qs: Sequence[float], lo: float, hi: float) -> list[float | None]:
    """`quantile` of each of `qs`, sorting the bins once."""
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be within [0, 1], got {q!r}")
    keys = sorted(key for key, count in bins.items() if count > 0)
    if not keys:
        return [None] * len(qs)
    # cumulative[i]: how many values lie in the bins up to keys[i]; the value at rank r
    # is in the first bin whose cumulative count exceeds r.
    cumulative = list(accumulate(bins[key] for key in keys))
    total = cumulative[-1]
    found: list[float | None] = []
    for q in qs:
        h = (total - 1) * q
        lower_rank = math.floor(h)
        upper_rank = min(lower_rank + 1, total - 1)
        lower = _value_at(keys, cumulative, lower_rank, lo, hi)
        upper = lower if upper_rank == lower_rank else _value_at(keys, cumulative, upper_rank, lo, hi)
        found.append(min(hi, max(lo, lower + (h - lower_rank) * (upper - lower))))
    return found


def _value_at(keys: list[int], cumulative: list[int], rank: int, lo: float, hi: float) -> float:
    """The value at `rank` of the expanded list: the exact min and max at its ends."""
    if rank == 0:
        return lo
    if rank == cumulative[-1] - 1:
        return hi
    return min(hi, max(lo, bin_value(keys[bisect_right(cumulative, rank)])))
