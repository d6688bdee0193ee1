"""The duration quantile sketch (`release-health.md` section 3.7, `storage/sketch.py`)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolvers.formulas import percentile
from storage.sketch import (
    RELATIVE_ACCURACY,
    ZERO_BIN,
    bin_of,
    bin_value,
    bins_of,
    merge,
    quantile,
)

# A hair over the bound, for the rounding of `log` at bin edges.
TOLERANCE = RELATIVE_ACCURACY * (1 + 1e-9)


def test_zero_and_tiny_durations_share_the_zero_bin() -> None:
    assert bin_of(0.0) == ZERO_BIN
    assert bin_of(9.99e-7) == ZERO_BIN
    assert bin_of(1e-6) != ZERO_BIN
    assert bin_value(ZERO_BIN) == 0.0


@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.inf, math.nan])
def test_invalid_durations_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        bin_of(bad)


def test_relative_error_over_a_wide_range() -> None:
    # Every value from 1 µs to ~11.6 days on a fine geometric grid (step 0.1 %).
    value = 1e-6
    while value < 1e6:
        represented = bin_value(bin_of(value))
        assert abs(represented - value) <= TOLERANCE * value
        value *= 1.001


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_relative_error_bound(value: float) -> None:
    assert abs(bin_value(bin_of(value)) - value) <= TOLERANCE * value


@given(st.floats(min_value=0, max_value=1e9), st.floats(min_value=0, max_value=1e9))
def test_bins_order_like_values(a: float, b: float) -> None:
    if a <= b:
        assert bin_of(a) <= bin_of(b)
    else:
        assert bin_of(a) >= bin_of(b)


def test_non_zero_bins_are_positive() -> None:
    assert bin_of(1e-6) >= 1


def test_sketches_merge_by_adding_counts() -> None:
    first, second = [1.0, 2.5, 2.5, 300.0], [2.5, 0.0, 7200.0]
    merged = bins_of(first)
    merge(merged, bins_of(second))
    assert merged == bins_of(first + second)


def test_empty_sketch_has_no_quantile() -> None:
    assert quantile({}, 0.5, 0.0, 0.0) is None
    assert quantile({bin_of(3.0): 0}, 0.5, 3.0, 3.0) is None


def test_quantile_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        quantile({bin_of(1.0): 1}, 1.5, 1.0, 1.0)


def test_single_value_is_exact() -> None:
    # A single value is both the exact min and max.
    for q in (0.0, 0.5, 0.99, 1.0):
        assert quantile(bins_of([135.6]), q, 135.6, 135.6) == 135.6


def test_equal_values_are_exact() -> None:
    for q in (0.0, 0.5, 0.75, 1.0):
        assert quantile(bins_of([0.123] * 9), q, 0.123, 0.123) == 0.123


def test_extreme_ranks_are_the_exact_min_and_max() -> None:
    values = [25.0, 25.0, 25.0, 30.0, 37.0, 49.0, 68.0, 80.0]
    assert quantile(bins_of(values), 0.0, 25.0, 80.0) == 25.0
    assert quantile(bins_of(values), 1.0, 25.0, 80.0) == 80.0


def test_check_set_within_one_percent() -> None:
    # Section 3.7: p50 33.5, p75 53.75, p90 71.6, p95 75.8, p99 79.16 seconds.
    values = [25.0, 25.0, 25.0, 30.0, 37.0, 49.0, 68.0, 80.0]
    bins = bins_of(values)
    for q, expected in [(0.5, 33.5), (0.75, 53.75), (0.9, 71.6), (0.95, 75.8), (0.99, 79.16)]:
        assert quantile(bins, q, 25.0, 80.0) == pytest.approx(expected, rel=0.01)


def test_huge_counts_are_walked_not_expanded() -> None:
    # 10^12 values near 1 s and 10^12 near 2 s: n = 2e12, h = (2e12 − 1) * 0.5, so rank
    # 999999999999 (last ~1 s) and rank 10^12 (first ~2 s) interpolate at 0.5 -> ~1.5.
    bins = {bin_of(1.0): 10**12, bin_of(2.0): 10**12}
    assert quantile(bins, 0.5, 1.0, 2.0) == pytest.approx(1.5, rel=0.01)


@given(
    st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e6)),
        min_size=1,
        max_size=60,
    ),
    st.sampled_from([0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]),
)
def test_sketch_matches_the_reference(values: list[float], q: float) -> None:
    ordered = sorted(values)
    expected = percentile(ordered, q)
    assert expected is not None
    got = quantile(bins_of(values), q, ordered[0], ordered[-1])
    assert got is not None
    assert got == pytest.approx(expected, rel=0.01, abs=1e-9)
