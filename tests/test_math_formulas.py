"""Status counts, rates, percentages and durations (`release-health.md` section 3)."""

import math

import pytest

from resolvers.formulas import (
    DURATION_QUANTILES,
    RATES,
    STATUSES,
    StatusCounts,
    adoption_percentage,
    alert_crash_free_value,
    complement_ratio,
    crash_free_percentage,
    duration_avg,
    duration_max,
    duration_quantile,
    errored_all,
    overview_crash_free_percentage,
    percentile,
    ratio,
    session_statuses,
    share_percentage,
    user_statuses,
)
from storage.sketch import bins_of
from storage.types import Aggregate, Counters, Durations, Users

# -- 3.2 session status counts ---------------------------------------------------------


def test_aggregate_buckets_example() -> None:
    # Section 2.4: {exited 123, abnormal 5, crashed 7} + {exited 12, errored 3}:
    # started 135 + 15 = 150, errored_preaggr 12 + 3 = 15, abnormal 5, crashed 7.
    # errored = 15 − (7 + 5 + 0) = 3; healthy = 150 − 15 = 135.
    counters = Counters(started=150, crashed=7, abnormal=5, errored_preaggr=15)
    assert session_statuses(counters, errored_set=0) == StatusCounts(
        abnormal=5, crashed=7, errored=3, healthy=135, unhandled=0
    )


def test_individual_sessions_example() -> None:
    # Section 2.5: started 3, crashed 1, error set {B, C}: errored_all = 0 + 2,
    # errored = 2 − 1 = 1, healthy = 3 − 2 = 1.
    counters = Counters(started=3, crashed=1)
    assert errored_all(counters, 2) == 2
    statuses = session_statuses(counters, errored_set=2)
    assert (statuses.errored, statuses.healthy, statuses.crashed) == (1, 1, 1)
    assert complement_ratio(counters.crashed, counters.started) == 0.6666666666666667


def test_errored_subtracts_unhandled_too() -> None:
    # errored_all = 4 + 6 = 10; fatal = 1 + 2 + 3 = 6 -> errored 4; healthy = 20 − 10 = 10.
    counters = Counters(started=20, crashed=1, abnormal=2, unhandled=3, errored_preaggr=4)
    assert session_statuses(counters, errored_set=6) == StatusCounts(
        abnormal=2, crashed=1, errored=4, healthy=10, unhandled=3
    )


def test_session_statuses_clamp_at_zero() -> None:
    # A crash update with init:false: started 1, crashed 2, error set 3 ->
    # errored = max(0, 3 − 2) = 1 and healthy = max(0, 1 − 3) = 0; with 1 errored id and
    # 2 crashes errored = max(0, 1 − 2) = 0.
    assert session_statuses(Counters(started=1, crashed=2), 3).healthy == 0
    assert session_statuses(Counters(started=1, crashed=2), 1).errored == 0


def test_status_order_and_lookup() -> None:
    assert STATUSES == ("abnormal", "crashed", "errored", "healthy", "unhandled")
    counts = StatusCounts(abnormal=1, crashed=2, errored=3, healthy=4, unhandled=5)
    assert [counts.of(status) for status in STATUSES] == [1, 2, 3, 4, 5]


# -- 3.3 user status counts ------------------------------------------------------------


def test_users_example() -> None:
    # Six users: U2 errored, U3 crashed, U4 abnormal -> errored_all 3, crashed 1, abnormal 1;
    # errored = 3 − (1 + 1) = 1, healthy = 6 − 3 = 3.
    users = Users(all=6, errored=3, crashed=1, abnormal=1)
    assert user_statuses(users) == StatusCounts(abnormal=1, crashed=1, errored=1, healthy=3, unhandled=0)


def test_user_healthy_then_crashed_is_not_healthy_in_total() -> None:
    # Section 3.4: one user, crashed in a later bucket -> users 1, errored_all 1 -> healthy 0.
    assert user_statuses(Users(all=1, errored=1, crashed=1)).healthy == 0


def test_user_fatal_counts_are_a_plain_sum() -> None:
    # One user both crashed and abnormal: errored_all 1 − (1 + 1) -> clamped to 0.
    assert user_statuses(Users(all=1, errored=1, crashed=1, abnormal=1)).errored == 0


# -- 3.5 rates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crashed", "started", "expected"),
    [
        (1, 6, 0.8333333333333334),  # 1 − 1/6
        (2, 3, 0.33333333333333337),  # 1 − 2/3
        (3, 357, 0.9915966386554622),  # 1 − 3/357
        (1, 3, 0.6666666666666667),  # 1 − 1/3
    ],
)
def test_crash_free_rate_divides_first(crashed: int, started: int, expected: float) -> None:
    aggregate = Aggregate(counters=Counters(started=started, crashed=crashed))
    assert RATES["crash_free_rate(session)"](aggregate) == expected


def test_crash_rate_one_sixth() -> None:
    aggregate = Aggregate(counters=Counters(started=6, crashed=1))
    assert RATES["crash_rate(session)"](aggregate) == 0.16666666666666666  # 1/6


def test_rates_are_clamped() -> None:
    # 2 crashes of 1 started: crash rate 2.0 -> 1.0, crash-free rate −1.0 -> 0.0.
    aggregate = Aggregate(counters=Counters(started=1, crashed=2))
    assert RATES["crash_rate(session)"](aggregate) == 1.0
    assert RATES["crash_free_rate(session)"](aggregate) == 0.0
    assert ratio(5, 2) == 1.0
    assert complement_ratio(5, 2) == 0.0


def test_every_rate_is_null_without_a_denominator() -> None:
    # Numerators without denominators: crashes without starts, tags without users.
    aggregate = Aggregate(
        counters=Counters(crashed=1, abnormal=1, unhandled=1, errored_preaggr=1),
        errored_set=1,
    )
    assert {name: rate(aggregate) for name, rate in RATES.items()} == dict.fromkeys(RATES)
    assert ratio(0, None) is None
    assert complement_ratio(0, None) is None


def test_rate_fields_are_the_endpoint_fields() -> None:
    assert set(RATES) == {
        "crash_rate(session)",
        "crash_free_rate(session)",
        "abnormal_rate(session)",
        "unhandled_rate(session)",
        "errored_rate(session)",
        "unhealthy_rate(session)",
        "crash_rate(user)",
        "crash_free_rate(user)",
        "abnormal_rate(user)",
        "unhandled_rate(user)",
        "errored_rate(user)",
        "anr_rate()",
        "foreground_anr_rate()",
    }


def test_each_rate_uses_its_own_numerator_and_denominator() -> None:
    aggregate = Aggregate(
        counters=Counters(started=10, crashed=1, abnormal=2, unhandled=3, errored_preaggr=1),
        errored_set=3,
        users=Users(all=8, errored=4, crashed=1, abnormal=2, unhandled=3, anr=2, anr_foreground=1),
    )
    expected = {
        "crash_rate(session)": 1 / 10,
        "crash_free_rate(session)": 1 - 1 / 10,
        "abnormal_rate(session)": 2 / 10,
        "unhandled_rate(session)": 3 / 10,
        "errored_rate(session)": (1 + 3) / 10,  # errored_preaggr + errored_set
        "unhealthy_rate(session)": (1 + 3) / 10,
        "crash_rate(user)": 1 / 8,
        "crash_free_rate(user)": 1 - 1 / 8,
        "abnormal_rate(user)": 2 / 8,
        "unhandled_rate(user)": 3 / 8,
        "errored_rate(user)": 4 / 8,
        "anr_rate()": 2 / 8,
        "foreground_anr_rate()": 1 / 8,
    }
    assert {name: rate(aggregate) for name, rate in RATES.items()} == expected


# -- 3.6 percentages -----------------------------------------------------------------


def test_percentage_shapes_differ_in_the_last_bit() -> None:
    # 100 − 1/3*100 = 66.66666666666667; (1 − 1/3)*100 = 66.66666666666667;
    # 2/3*100 = 66.66666666666666; round((1 − 1/3)*100, 3) = 66.667.
    assert overview_crash_free_percentage(1, 3) == 66.66666666666667
    assert crash_free_percentage(1, 3) == 66.66666666666667
    assert adoption_percentage(2, 3) == 66.66666666666666
    assert share_percentage(2, 3) == 66.66666666666666
    assert alert_crash_free_value(1, 3) == 66.667


def test_adoption_example() -> None:
    # Section 5.3: sessions 2 and 1 of 3 -> 66.66666666666666 and 33.33333333333333;
    # users 1 of 1 -> 100.0.
    assert adoption_percentage(2, 3) == 66.66666666666666
    assert adoption_percentage(1, 3) == 33.33333333333333
    assert adoption_percentage(1, 1) == 100.0


def test_adoption_is_null_when_either_count_is_zero() -> None:
    assert adoption_percentage(0, 3) is None
    assert adoption_percentage(3, 0) is None
    assert adoption_percentage(3, None) is None


def test_overview_example_one_crashed_session() -> None:
    # Section 5.4: 1 started session that crashed, 1 user who crashed:
    # 100 − 1/1*100 = 0.0; (0 unhandled + 1 crashed)/1*100 = 100.0.
    assert overview_crash_free_percentage(1, 1) == 0.0
    assert share_percentage(0 + 1, 1) == 100.0
    # Three users of which one crashed: 100 − 1/3*100.
    assert overview_crash_free_percentage(1, 3) == 66.66666666666667


def test_current_rate_example() -> None:
    # Section 5.14: 3 started, 1 crash -> (1 − 1/3)*100.
    assert crash_free_percentage(1, 3) == 66.66666666666667


def test_percentages_are_null_on_zero_or_absent_totals() -> None:
    for shape in (
        overview_crash_free_percentage,
        share_percentage,
        crash_free_percentage,
        alert_crash_free_value,
    ):
        assert shape(0, 0) is None
        assert shape(1, None) is None


def test_percentages_are_clamped() -> None:
    # 2 crashed of 1: 100 − 200 = −100 -> 0.0; (1 − 2)*100 -> 0.0; 5/2*100 = 250 -> 100.0.
    assert overview_crash_free_percentage(2, 1) == 0.0
    assert crash_free_percentage(2, 1) == 0.0
    assert share_percentage(5, 2) == 100.0
    assert adoption_percentage(5, 2) == 100.0
    # The alert clamps 1 − 5/2 = −1.5 to 0 before multiplying.
    assert alert_crash_free_value(5, 2) == 0.0


def test_alert_values() -> None:
    # 1 of 4: (1 − 0.25)*100 = 75.0; no crash: 100.0.
    assert alert_crash_free_value(1, 4) == 75.0
    assert alert_crash_free_value(0, 7) == 100.0


# -- 3.7 durations -------------------------------------------------------------------

CHECK_SET = [25.0, 25.0, 25.0, 30.0, 37.0, 49.0, 68.0, 80.0]
# n = 8, h = 7q:
# p50: h 3.5  -> 30 + 0.5 * (37 − 30) = 33.5
# p75: h 5.25 -> 49 + 0.25 * (68 − 49) = 53.75
# p90: h 6.3  -> 68 + 0.3 * (80 − 68) = 71.6
# p95: h 6.65 -> 68 + 0.65 * 12 = 75.8
# p99: h 6.93 -> 68 + 0.93 * 12 = 79.16
CHECK_PERCENTILES_MS = {"p50": 33500, "p75": 53750, "p90": 71600, "p95": 75800, "p99": 79160}


@pytest.mark.parametrize(("name", "expected_ms"), CHECK_PERCENTILES_MS.items())
def test_reference_percentile(name: str, expected_ms: float) -> None:
    value = percentile(CHECK_SET, DURATION_QUANTILES[name])
    assert value is not None
    assert value * 1000 == pytest.approx(expected_ms, rel=1e-12)


def test_reference_percentile_edges() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([1.0, 2.0], 0.0) == 1.0
    assert percentile([1.0, 2.0], 1.0) == 2.0


def check_durations() -> Durations:
    return Durations(
        count=len(CHECK_SET),
        sum=sum(CHECK_SET),
        min=min(CHECK_SET),
        max=max(CHECK_SET),
        bins=bins_of(CHECK_SET),
    )


def test_avg_and_max_are_exact() -> None:
    # 339 / 8 = 42.375 s = 42375 ms; max 80 s = 80000 ms.
    durations = check_durations()
    assert duration_avg(durations) == 42.375
    assert duration_max(durations) == 80.0


@pytest.mark.parametrize(("name", "expected_ms"), CHECK_PERCENTILES_MS.items())
def test_sketch_percentiles_within_one_percent(name: str, expected_ms: float) -> None:
    value = duration_quantile(check_durations(), DURATION_QUANTILES[name])
    assert value is not None
    assert value * 1000 == pytest.approx(expected_ms, rel=0.01)


def test_single_duration_is_exact() -> None:
    durations = Durations(count=1, sum=135.6, min=135.6, max=135.6, bins=bins_of([135.6]))
    for q in DURATION_QUANTILES.values():
        assert duration_quantile(durations, q) == 135.6
    assert duration_avg(durations) == 135.6


def test_equal_durations_are_exact() -> None:
    durations = Durations(count=5, sum=5 * 30.7, min=30.7, max=30.7, bins=bins_of([30.7] * 5))
    for q in DURATION_QUANTILES.values():
        assert duration_quantile(durations, q) == 30.7


def test_no_durations_are_null() -> None:
    empty = Durations()
    assert duration_avg(empty) is None
    assert duration_max(empty) is None
    assert duration_quantile(empty, 0.5) is None


def test_rates_never_nan() -> None:
    for part, total in [(0, 1), (1, 1), (10**18, 1), (1, 10**18)]:
        for shape in (ratio, complement_ratio):
            value = shape(part, total)
            assert value is not None and math.isfinite(value) and 0.0 <= value <= 1.0
