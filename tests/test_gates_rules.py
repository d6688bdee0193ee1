"""`resolvers/gates.py`: each verdict and the rule that decided it, on numbers chosen by
hand, and the validation of levels."""

from __future__ import annotations

from resolvers.gates import GateLevels, Levels, Metric, Numbers, Outcome, evaluate, validate

#: 100 sessions, 10 users: 96 % crash-free sessions, 80 % crash-free users, 50 % adoption.
NUMBERS = Numbers(sessions=100, users=10, crash_free_sessions=96.0, crash_free_users=80.0, adoption=50.0)


def test_each_verdict_and_its_rule() -> None:
    warn = evaluate(GateLevels(crash_free_sessions=Levels(99, 95)), NUMBERS)
    assert (warn.outcome, warn.rule) == (Outcome.WARN, "crash-free sessions 96 % is below the target 99 %")
    fail = evaluate(GateLevels(crash_free_sessions=Levels(99, 97)), NUMBERS)
    assert (fail.outcome, fail.rule) == (
        Outcome.FAIL,
        "crash-free sessions 96 % is below the critical level 97 %",
    )
    assert fail.deciding is not None and fail.deciding.metric is Metric.CRASH_FREE_SESSIONS
    # Equal to a level is not below it.
    edge = evaluate(GateLevels(crash_free_sessions=Levels(96, 96), crash_free_users=Levels(80)), NUMBERS)
    assert (edge.outcome, edge.rule, edge.deciding) == (Outcome.PASS, "every level is met", None)
    short = evaluate(GateLevels(crash_free_sessions=Levels(99, 97), min_sessions=101), NUMBERS)
    assert (short.outcome, short.rule) == (Outcome.INSUFFICIENT_DATA, "sessions 100 is below the minimum 101")
    users = evaluate(GateLevels(min_users=11), NUMBERS)
    assert (users.outcome, users.rule) == (Outcome.INSUFFICIENT_DATA, "users 10 is below the minimum 11")
    none = evaluate(GateLevels(), NUMBERS)
    assert (none.outcome, none.rule) == (Outcome.PASS, "no level is set and the minimum volume is met")


def test_worst_check_wins() -> None:
    levels = GateLevels(
        crash_free_sessions=Levels(99),  # WARN
        crash_free_users=Levels(90, 85),  # FAIL: 80 < 85
        adoption=Levels(60),  # WARN
    )
    v = evaluate(levels, NUMBERS)
    assert v.outcome is Outcome.FAIL
    assert v.rule == "crash-free users 80 % is below the critical level 85 %"
    assert [(c.metric, c.outcome) for c in v.checks] == [
        (Metric.SESSIONS, Outcome.PASS),
        (Metric.USERS, Outcome.PASS),
        (Metric.CRASH_FREE_SESSIONS, Outcome.WARN),
        (Metric.CRASH_FREE_USERS, Outcome.FAIL),
        (Metric.ADOPTION, Outcome.WARN),
    ]


def test_missing_value_is_insufficient_but_a_failure_still_fails() -> None:
    empty = Numbers(sessions=0, users=0, crash_free_sessions=None, crash_free_users=None, adoption=None)
    v = evaluate(GateLevels(crash_free_sessions=Levels(99)), empty)
    assert (v.outcome, v.rule) == (
        Outcome.INSUFFICIENT_DATA,
        "crash-free sessions has no value (no sessions)",
    )
    half = Numbers(sessions=5, users=0, crash_free_sessions=50.0, crash_free_users=None, adoption=None)
    v = evaluate(GateLevels(crash_free_sessions=Levels(99, 90), crash_free_users=Levels(99)), half)
    assert v.outcome is Outcome.FAIL


def test_validation() -> None:
    assert validate(GateLevels(crash_free_sessions=Levels(99, 98), min_sessions=10)) == []
    problems = dict(
        validate(GateLevels(crash_free_sessions=Levels(98, 99), adoption=Levels(120), min_users=-1))
    )
    assert set(problems) == {"crashFreeSessionsCritical", "adoptionTarget", "minUsers"}
    assert "must not be above crashFreeSessionsTarget (98)" in problems["crashFreeSessionsCritical"]
