"""Adoption stages from stored history (`release-health.md` sections 6.1 and 6.2).

θ = 10 %, W = 6 h unless a test says otherwise. `H` is an hour boundary; bucket starts are
hourly unless a test uses minute buckets.
"""

import random
import time
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.adoption_stage import (
    NEVER_ADOPTED,
    AdoptionStage,
    adoption_stages,
    has_stage_environment,
    is_valid_version,
)

HOUR = 3600
H = 1610236800  # 2021-01-10T00:00:00Z


def stages(started: Mapping[str, Mapping[int, int]], at: float) -> dict[str, AdoptionStage]:
    return adoption_stages(started, at, threshold=0.1, window=6 * HOUR)


# -- adoption at an instant ----------------------------------------------------------


def test_exactly_ten_percent_is_adopted() -> None:
    # Window of H + 1h is [H − 5h, H + 1h) and holds bucket H: A 1 of 10 = 10 % >= 10 %.
    result = stages({"A": {H: 1}, "B": {H: 9}}, H + HOUR)
    assert result["A"] == AdoptionStage("adopted", H + HOUR)


def test_exactly_ten_percent_of_thirty_is_adopted() -> None:
    # 3 of 30 is exactly 10 % (0.1 * 30 would round to 3.0000000000000004).
    result = stages({"A": {H: 3}, "B": {H: 27}}, H + HOUR)
    assert result["A"].stage == "adopted"


def test_just_below_ten_percent_is_low_adoption() -> None:
    # 2 of 21 = 9.5 %.
    assert stages({"A": {H: 2}, "B": {H: 19}}, H + HOUR)["A"] == NEVER_ADOPTED


def test_first_double_count_example_is_adopted_here() -> None:
    # Section 6.1: A 1 healthy session, B 9 sessions that crashed in their initial update.
    # Upstream counts 10 + 9 = 19 units (A 1 < 1.9); started sessions only: A 1 of 10.
    assert stages({"A": {H: 1}, "B": {H: 9}}, H + HOUR)["A"].stage == "adopted"


def test_second_double_count_example_is_not_adopted_here() -> None:
    # Section 6.1: A 1 session that crashed in its initial update, B 14 healthy sessions.
    # Upstream counts 16 units (A 2 >= 1.6); started sessions only: A 1 of 15 = 6.7 %.
    assert stages({"A": {H: 1}, "B": {H: 14}}, H + HOUR)["A"] == NEVER_ADOPTED


def test_window_includes_its_start_and_excludes_its_end() -> None:
    # At H + 6h the window is [H, H + 6h): bucket H is in, so A (1 of 2) is adopted there.
    assert stages({"A": {H: 1}, "B": {H + 5 * HOUR: 1}}, H + 6 * HOUR)["A"].stage == "adopted"
    # A bucket starting exactly at the instant is not in its window.
    assert stages({"A": {H: 1}}, H) == {"A": NEVER_ADOPTED}


def test_at_itself_is_an_evaluation_instant() -> None:
    # Minute buckets: A at H + 10 min, T = H + 30 min. No hour boundary <= T sees data;
    # T's window [T − 6h, T) holds A (1 of 1).
    at = H + 30 * 60
    assert stages({"A": {H + 600: 1}}, at)["A"] == AdoptionStage("adopted", at)
    # With B 20 at H + 20 min: A 1 of 21 < 10 %.
    assert stages({"A": {H + 600: 1}, "B": {H + 1200: 20}}, at)["A"] == NEVER_ADOPTED


def test_threshold_and_window_are_settings() -> None:
    started = {"A": {H: 1}, "B": {H: 3}}  # A 25 %
    assert adoption_stages(started, H + HOUR, threshold=0.25)["A"].stage == "adopted"
    assert adoption_stages(started, H + HOUR, threshold=0.3)["A"] == NEVER_ADOPTED
    # With a 1 h window, bucket H has left the window of H + 2h: A is replaced at H + 2h.
    short = adoption_stages(started, H + 2 * HOUR, threshold=0.25, window=HOUR)
    assert short["A"] == AdoptionStage("replaced", H + HOUR, H + 2 * HOUR)


# -- consequences of 6.2 -------------------------------------------------------------


def test_never_above_threshold_is_low_adoption() -> None:
    started = {"A": {H + h * HOUR: 1 for h in range(48)}, "B": {H + h * HOUR: 20 for h in range(48)}}
    # A is 1 of 21 every hour, 6 of 126 in every full window: always 4.8 %.
    assert stages(started, H + 48 * HOUR)["A"] == NEVER_ADOPTED


def test_above_now_is_adopted_even_after_a_dip() -> None:
    # A 5 / B 5 at H: adopted at H + 1h … H + 6h (50 %). B 100 at H + 7h: windows of
    # H + 8h … H + 13h hold only that bucket (A 0 %). A 50 / B 50 at H + 14h: adopted at
    # H + 15h again. adopted_at keeps the first instant.
    started = {"A": {H: 5, H + 14 * HOUR: 50}, "B": {H: 5, H + 7 * HOUR: 100, H + 14 * HOUR: 50}}
    assert stages(started, H + 15 * HOUR)["A"] == AdoptionStage("adopted", H + HOUR)
    # In the dip it is replaced, unadopted at the first instant after H + 6h.
    assert stages(started, H + 10 * HOUR)["A"] == AdoptionStage("replaced", H + HOUR, H + 7 * HOUR)


def test_adopted_release_whose_sessions_stop_is_replaced() -> None:
    # A 10 at H only; B 10 every hour from H + 1h. At H + 6h the window [H, H + 6h) holds
    # A 10 and B 50: 10/60 = 16.7 % -> still adopted. At H + 7h A has left the window.
    started = {"A": {H: 10}, "B": {H + h * HOUR: 10 for h in range(1, 21)}}
    at = H + 20 * HOUR + 1800
    result = stages(started, at)
    assert result["A"] == AdoptionStage("replaced", H + HOUR, H + 7 * HOUR)
    # B: at H + 2h the window holds A 10, B 10 -> 50 %.
    assert result["B"] == AdoptionStage("adopted", H + 2 * HOUR)


def test_replacement_is_reported_at_an_instant_between_hours() -> None:
    # A adopted at H + 1h (1 of 1). B 100 at H + 1h 10min (minute bucket). At T = H + 1h
    # 30 min the window holds A 1 and B 100: A 1 % -> replaced, unadopted at T itself, the
    # first evaluation instant after H + 1h.
    at = H + HOUR + 1800
    result = stages({"A": {H: 1}, "B": {H + HOUR + 600: 100}}, at)
    assert result["A"] == AdoptionStage("replaced", H + HOUR, at)
    assert result["B"] == AdoptionStage("adopted", at)


def test_silent_environment_replaces_the_release() -> None:
    # This project's reading: at T the window is empty, so A is not adopted at T; it was
    # adopted at H + 1h … H + 6h, so it is replaced from the next hour boundary, H + 7h.
    assert stages({"A": {H: 10}}, H + 30 * HOUR)["A"] == AdoptionStage("replaced", H + HOUR, H + 7 * HOUR)


def test_re_adoption_keeps_the_first_adoption_and_the_latest_unadoption() -> None:
    # Adopted H + 1h … H + 6h, dip (B only) H + 8h … H + 13h, adopted again at H + 15h …
    # H + 20h, then B only from H + 21h: unadopted after the latest adoption, at H + 21h.
    started = {
        "A": {H: 5, H + 14 * HOUR: 50},
        "B": {H: 5, H + 7 * HOUR: 100, H + 14 * HOUR: 50, H + 20 * HOUR: 1000},
    }
    assert stages(started, H + 22 * HOUR)["A"] == AdoptionStage("replaced", H + HOUR, H + 21 * HOUR)


def test_data_at_or_after_at_is_ignored() -> None:
    started = {"A": {H: 1}, "B": {H + 2 * HOUR: 100}}
    # At H + 2h, B's bucket starts at the instant itself and is not in the window.
    assert stages(started, H + 2 * HOUR)["A"] == AdoptionStage("adopted", H + HOUR)


def test_release_without_sessions_is_low_adoption() -> None:
    assert stages({"A": {}, "B": {H: 0}}, H + HOUR) == {"A": NEVER_ADOPTED, "B": NEVER_ADOPTED}


# -- valid versions and environments ------------------------------------------------


@pytest.mark.parametrize(
    "version",
    ["", ".", "..", "latest", "LATEST", "Latest", "a/b", "a\tb", "a\nb", "a\fb", None],
)
def test_invalid_versions(version: str | None) -> None:
    assert not is_valid_version(version)


@pytest.mark.parametrize("version", ["1.0", "foo@1.0.0", "latest1", "...", "a.b", "ab+12"])
def test_valid_versions(version: str) -> None:
    assert is_valid_version(version)


def test_invalid_releases_have_no_stage_but_count_in_the_total() -> None:
    # "latest" 95 + "a@1" 5 = 100: a@1 has 5 % -> low_adoption; "latest" gets no stage.
    result = stages({"latest": {H: 95}, "a@1": {H: 5}, "": {H: 0}}, H + HOUR)
    assert result == {"a@1": NEVER_ADOPTED}


def test_stage_environments() -> None:
    assert has_stage_environment("production")
    assert not has_stage_environment("")
    assert not has_stage_environment(None)


# -- the sweep against a direct reading of 6.2 ----------------------------------------


def reference(
    started: Mapping[str, Mapping[int, int]], at: float, theta: float, window: int
) -> dict[str, AdoptionStage]:
    """Section 6.2 evaluated naively: every hour boundary from the earliest bucket to `at`
    plus `at`, each window summed afresh."""
    buckets = [b for counts in started.values() for b, n in counts.items() if n > 0]
    instants: list[float] = []
    if buckets:
        hour = (min(buckets) // HOUR + 1) * HOUR
        while hour <= at:
            instants.append(hour)
            hour += HOUR
    if not instants or instants[-1] != at:
        instants.append(at)

    def adopted(release: str, t: float) -> bool:
        total = sum(n for c in started.values() for b, n in c.items() if t - window <= b < t)
        own = sum(n for b, n in started[release].items() if t - window <= b < t)
        return total > 0 and own / total >= theta

    result = {}
    for release in started:
        if not is_valid_version(release):
            continue
        hits = [t for t in instants if adopted(release, t)]
        if not hits:
            result[release] = NEVER_ADOPTED
        elif hits[-1] == at:
            result[release] = AdoptionStage("adopted", hits[0])
        else:
            after = next(t for t in instants if t > hits[-1])
            result[release] = AdoptionStage("replaced", hits[0], after)
    return result


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["A", "B", "C", "latest"]),
        st.dictionaries(st.integers(0, 40).map(lambda m: H + m * 900), st.integers(0, 30)),
        min_size=1,
    ),
    st.integers(0, 14 * 4).map(lambda q: H + q * 900 + 7),
    st.sampled_from([0.1, 0.25, 0.5]),
    st.sampled_from([HOUR, 2 * HOUR, 6 * HOUR, 5400]),
)
def test_sweep_matches_reference(
    started: dict[str, dict[int, int]], at: float, theta: float, window: int
) -> None:
    assert adoption_stages(started, at, theta, window) == reference(started, at, theta, window)


def test_ninety_days_of_hundreds_of_releases_is_fast() -> None:
    # 300 releases, each live for 7 days at a random start within 90 days, 1–50 sessions
    # an hour: about 50,000 hourly buckets.
    rng = random.Random(7)
    started: dict[str, dict[int, int]] = {}
    for index in range(300):
        first = rng.randrange(0, 83 * 24)
        started[f"app@{index}"] = {H + (first + h) * HOUR: rng.randint(1, 50) for h in range(7 * 24)}
    at = H + 90 * 24 * HOUR + 1234.5
    began = time.perf_counter()
    result = adoption_stages(started, at)
    elapsed = time.perf_counter() - began
    assert len(result) == 300
    assert elapsed < 5.0, f"took {elapsed:.2f} s"
