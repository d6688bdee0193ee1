"""Release comparison's statistics against values worked out independently: Newcombe
(1998) Statistics in Medicine 17:873-890, Table II (method 10, the hybrid score interval)
and the Wilson intervals of Newcombe (1998) 17:857-872, Table I, as remembered to four
places; every one is also recomputed here by a separate implementation (the Wilson bounds
as the two roots of the score quadratic), so a misremembered digit would show."""

from __future__ import annotations

import math

import pytest

from resolvers.comparison import (
    Counts,
    Guard,
    Verdict,
    compare,
    difference,
    proportion,
    wilson,
    z_of,
)

Z95 = 1.959963984540054

#: (x1, n1, x2, n2) -> difference, method 10 lower, upper (Newcombe 1998, Table II).
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), 0.2000, 0.0524, 0.3339),
    ((9, 10, 3, 10), 0.6000, 0.1705, 0.8090),
    ((6, 7, 2, 7), 0.5714, 0.0582, 0.8062),
    ((5, 56, 0, 29), 0.0893, -0.0381, 0.1926),
    ((0, 10, 0, 20), 0.0000, -0.1611, 0.2775),
    ((0, 10, 0, 10), 0.0000, -0.2775, 0.2775),
    ((10, 10, 0, 20), 1.0000, 0.6791, 1.0000),
    ((10, 10, 0, 10), 1.0000, 0.6075, 1.0000),
]

#: (x, n) -> Wilson 95 % lower, upper (Newcombe 1998, single proportion, Table I).
WILSON_TABLE = [
    ((81, 263), 0.2553, 0.3662),
    ((15, 148), 0.0624, 0.1605),
    ((0, 20), 0.0000, 0.1611),
    ((1, 29), 0.0061, 0.1718),
    ((29, 29), 0.8830, 1.0000),
]


def quadratic_wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson bounds as the roots of (n + z^2) p^2 - (2x + z^2) p + x^2 / n = 0, the
    p at which the score statistic |x/n - p| / sqrt(p(1-p)/n) equals z."""
    a, b, c = n + z * z, -(2 * x + z * z), x * x / n
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def hybrid(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = quadratic_wilson(x1, n1)
    l2, u2 = quadratic_wilson(x2, n2)
    d = p1 - p2
    return d, d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def test_the_95_percent_quantile():
    assert z_of(0.95) == pytest.approx(Z95, abs=1e-12)


@pytest.mark.parametrize(("case", "low", "high"), WILSON_TABLE)
def test_wilson_matches_the_table_and_the_quadratic(case, low, high):
    found = wilson(*case)
    assert found is not None
    assert (round(found.low, 4), round(found.high, 4)) == (low, high)
    q_low, q_high = quadratic_wilson(*case)
    assert found.low == pytest.approx(q_low, abs=1e-12)
    assert found.high == pytest.approx(q_high, abs=1e-12)


@pytest.mark.parametrize(("case", "delta", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombe_method_10_matches_table_ii_and_the_quadratic(case, delta, low, high):
    found = difference(*case)
    assert found is not None
    d, interval = found
    assert (round(d, 4), round(interval.low, 4), round(interval.high, 4)) == (delta, low, high)
    assert (d, interval.low, interval.high) == pytest.approx(hybrid(*case), abs=1e-12)


def test_none_means_no_denominator():
    assert proportion(3, 0) is None and wilson(0, 0) is None and difference(1, 2, 0, 0) is None
    # a numerator above its denominator (resent crash updates) is clamped like a rate
    assert proportion(5, 4) == 1.0 and wilson(5, 4) == wilson(4, 4)


def _counts(sessions, crashed, users, crashed_users, errored=None, project=1000):
    errored = crashed if errored is None else errored
    return Counts(sessions, crashed, errored, 0, 0, users, crashed_users, project)


def test_direction_decides_better_and_worse():
    good, bad = _counts(1000, 5, 200, 5), _counts(1000, 60, 200, 40)
    worse = compare(bad, good)
    by_metric = {r.metric: r for r in worse.rates}
    assert by_metric["crash_free_sessions"].verdict is Verdict.WORSE  # crash-free down
    assert by_metric["errored_sessions"].verdict is Verdict.WORSE  # errored up
    assert by_metric["abnormal_sessions"].verdict is Verdict.NO_SIGNIFICANT_DIFFERENCE  # 0 vs 0
    assert by_metric["crash_free_sessions"].value == pytest.approx(94.0)
    assert by_metric["crash_free_sessions"].baseline == pytest.approx(99.5)
    assert by_metric["crash_free_sessions"].delta == pytest.approx(-5.5)
    # the interval of the difference is Newcombe's, in percentage points
    d, low, high = hybrid(940, 1000, 995, 1000)
    assert by_metric["crash_free_sessions"].delta_interval.low == pytest.approx(low * 100)
    assert by_metric["crash_free_sessions"].delta_interval.high == pytest.approx(high * 100)
    assert worse.verdict is Verdict.WORSE
    assert compare(good, bad).verdict is Verdict.BETTER
    same = compare(good, good)
    assert same.verdict is Verdict.NO_SIGNIFICANT_DIFFERENCE
    assert {r.delta for r in same.rates} == {0.0}


def test_adoption_is_reported_but_does_not_decide():
    newer = _counts(200, 1, 50, 1, project=1000)
    older = _counts(800, 4, 150, 3, project=1000)
    result = compare(newer, older)
    adoption = next(r for r in result.rates if r.metric == "adoption")
    assert (adoption.value, adoption.baseline, adoption.verdict) == (20.0, 80.0, Verdict.WORSE)
    assert result.verdict is Verdict.NO_SIGNIFICANT_DIFFERENCE


def test_the_volume_guard():
    small, large = _counts(99, 50, 30, 20), _counts(5000, 1, 500, 1)
    result = compare(small, large)
    assert result.verdict is Verdict.INSUFFICIENT_DATA
    assert {r.verdict for r in result.rates} == {Verdict.INSUFFICIENT_DATA}
    # the numbers are still there
    assert result.rates[0].value == pytest.approx(100 * 49 / 99)
    assert compare(small, large, Guard(min_sessions=99, min_users=20)).verdict is Verdict.WORSE
    assert compare(_counts(500, 1, 19, 0), large).verdict is Verdict.INSUFFICIENT_DATA  # users
    assert compare(large, None).verdict is Verdict.INSUFFICIENT_DATA  # no target
