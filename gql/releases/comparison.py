# mypy: disable-error-code="untyped-decorator"
"""`ReleaseHealth.comparison`: a release against another release, the previous release or
the baseline of the other releases, in the release's scope (issue 10 section 1). The
statistics are `resolvers.comparison`, the counts `resolvers.release_comparison` (shared
with the REST endpoint, so both answer the same numbers)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from gql.core.context import ContextInfo
from gql.core.dimension_filter import DimensionFilter
from gql.core.enums import _value
from gql.core.scalars import Count
from gql.core.scope import Scope
from gql.releases.comparison_inputs import ComparisonTarget, target_of
from gql.releases.comparison_loaders import CountsKey, comparison_loaders
from resolvers import comparison as stats
from resolvers.release_comparison import (
    AGAINST_BASELINE,
    AGAINST_PREVIOUS,
    AGAINST_RELEASE,
    decide,
    dimension_query,
    first_seen,
)
from storage.types import ProjectRelease

if TYPE_CHECKING:
    from gql.releases.types import Release


@strawberry.enum(description="A rate that release comparison compares.")
class ComparedMetric(Enum):
    CRASH_FREE_SESSIONS = _value("crash_free_sessions", "Sessions that did not crash (higher is better).")
    CRASH_FREE_USERS = _value("crash_free_users", "Users without a crashed session (higher is better).")
    ERRORED_SESSIONS = _value(
        "errored_sessions",
        "Sessions with any error, crashed, abnormal and unhandled ones included (the "
        "sessions endpoint's `errored_rate(session)`; higher is worse).",
    )
    ABNORMAL_SESSIONS = _value("abnormal_sessions", "Sessions that ended abnormally (higher is worse).")
    UNHANDLED_SESSIONS = _value(
        "unhandled_sessions",
        "Sessions that ended unhandled, crashes not included (the sessions endpoint's "
        "`unhandled_rate(session)`; higher is worse).",
    )
    ADOPTION = _value(
        "adoption",
        "The release's share of its project's sessions in the same scope and filter "
        "(higher is better; not compared against the baseline).",
    )


@strawberry.enum(description="The outcome of a comparison.")
class ComparisonVerdict(Enum):
    BETTER = _value("better", "Significantly better: the difference's interval excludes 0.")
    WORSE = _value("worse", "Significantly worse: the difference's interval excludes 0.")
    NO_SIGNIFICANT_DIFFERENCE = _value("no_significant_difference", "The difference's interval contains 0.")
    INSUFFICIENT_DATA = _value(
        "insufficient_data",
        "Either side is below the minimum sessions or users, a rate has no denominator, "
        "or there is nothing to compare against (no previous release).",
    )


@strawberry.enum(description="What a release is compared against.")
class ComparisonKind(Enum):
    RELEASE = _value(AGAINST_RELEASE, "Another release of the same project.")
    PREVIOUS_RELEASE = _value(
        AGAINST_PREVIOUS, "The release first seen just before it in the scope's environments."
    )
    BASELINE = _value(AGAINST_BASELINE, "Every other release of the project in the same scope.")


@strawberry.type(description="A confidence interval, in the unit of the field that holds it.")
class ConfidenceInterval:
    low: float = strawberry.field(description="The lower bound.")
    high: float = strawberry.field(description="The upper bound.")

    @classmethod
    def of(cls, interval: stats.Interval | None) -> ConfidenceInterval | None:
        return None if interval is None else cls(low=interval.low, high=interval.high)


@strawberry.type(description="One compared rate; percentages 0..100, differences in percentage points.")
class RateComparison:
    metric: ComparedMetric = strawberry.field(description="The rate.")
    value: float | None = strawberry.field(description="The release's rate; null without a denominator.")
    baseline: float | None = strawberry.field(
        description="The target's rate; null without a denominator or without a target."
    )
    delta: float | None = strawberry.field(description="`value - baseline`; null when either is null.")
    interval: ConfidenceInterval | None = strawberry.field(
        description="The Wilson score interval of `value`; null with it."
    )
    baseline_interval: ConfidenceInterval | None = strawberry.field(
        description="The Wilson score interval of `baseline`; null with it."
    )
    delta_interval: ConfidenceInterval | None = strawberry.field(
        description="Newcombe's hybrid score interval of `delta` (Newcombe 1998, method 10); null with it."
    )
    verdict: ComparisonVerdict = strawberry.field(description="Better, worse, neither, or too little data.")

    @classmethod
    def of(cls, r: stats.RateResult) -> RateComparison:
        return cls(
            metric=ComparedMetric(r.metric),
            value=r.value,
            baseline=r.baseline,
            delta=r.delta,
            interval=ConfidenceInterval.of(r.interval),
            baseline_interval=ConfidenceInterval.of(r.baseline_interval),
            delta_interval=ConfidenceInterval.of(r.delta_interval),
            verdict=ComparisonVerdict(r.verdict.value),
        )


@strawberry.type(description="The counts behind one side's rates, in the scope and filter.")
class ComparedSide:
    pair: strawberry.Private[ProjectRelease | None]
    sessions: Count = strawberry.field(description="Sessions started.")
    crashed_sessions: Count = strawberry.field(description="Crashed sessions.")
    errored_sessions: Count = strawberry.field(
        description="Errored sessions (crashed, abnormal, unhandled included)."
    )
    abnormal_sessions: Count = strawberry.field(description="Abnormal sessions.")
    unhandled_sessions: Count = strawberry.field(description="Unhandled sessions.")
    users: Count = strawberry.field(
        description="Distinct users (the baseline sums its releases' users: a user of two counts twice)."
    )
    crashed_users: Count = strawberry.field(description="Users with a crashed session.")
    project_sessions: Count = strawberry.field(description="The project's sessions (adoption's denominator).")

    @strawberry.field(
        description="The release; null for the baseline, without a previous release, or for a "
        "version that never sent a session in the project."
    )
    def release(self) -> Annotated[Release, strawberry.lazy("gql.releases.types")] | None:
        from gql.releases.types import Release

        return None if self.pair is None else Release.of(*self.pair)

    @classmethod
    def of(cls, pair: ProjectRelease | None, c: stats.Counts | None) -> ComparedSide:
        c = c or stats.Counts()
        return cls(
            pair=pair,
            sessions=Count(c.sessions),
            crashed_sessions=Count(c.crashed),
            errored_sessions=Count(c.errored),
            abnormal_sessions=Count(c.abnormal),
            unhandled_sessions=Count(c.unhandled),
            users=Count(c.users),
            crashed_users=Count(c.crashed_users),
            project_sessions=Count(c.project_sessions),
        )


@strawberry.type(description="A release compared with a target in the release's scope.")
class ReleaseComparison:
    kind: ComparisonKind = strawberry.field(description="What the release is compared against.")
    subject: ComparedSide = strawberry.field(description="The release's counts.")
    target: ComparedSide = strawberry.field(description="The target's counts (zeros without a target).")
    rates: list[RateComparison] = strawberry.field(
        description="Every compared rate, in `ComparedMetric` order."
    )
    verdict: ComparisonVerdict = strawberry.field(
        description="INSUFFICIENT_DATA when either side is below the minimum volume or there is no "
        "target; else WORSE when any rate but adoption is worse, BETTER when one is better and "
        "none worse, otherwise NO_SIGNIFICANT_DIFFERENCE."
    )
    confidence: float = strawberry.field(description="The confidence level of every interval, e.g. 0.95.")
    min_sessions: int = strawberry.field(description="The minimum sessions per side the verdicts required.")
    min_users: int = strawberry.field(description="The minimum users per side the verdicts required.")


async def compare_release(
    info: ContextInfo,
    pair: ProjectRelease,
    scope: Scope,
    against: ComparisonTarget,
    dimension: DimensionFilter | None,
    guard: stats.Guard,
) -> ReleaseComparison:
    target = target_of(against)
    query = "" if dimension is None else dimension_query(dimension.dimension.value, dimension.value)
    loaders = comparison_loaders(info)
    project_id, version = pair
    counts = await loaders.counts.load(CountsKey(project_id, scope, query))
    series = await loaders.series.load(project_id)
    outcome = decide(counts, first_seen(series, scope.environments), version, target, guard)
    named = outcome.target_release
    known = named is not None and named in first_seen(series, None)
    return ReleaseComparison(
        kind=ComparisonKind(target.kind),
        subject=ComparedSide.of(pair, outcome.release),
        target=ComparedSide.of((project_id, named) if known and named is not None else None, outcome.target),
        rates=[RateComparison.of(r) for r in outcome.comparison.rates],
        verdict=ComparisonVerdict(outcome.comparison.verdict.value),
        confidence=stats.DEFAULT_CONFIDENCE,
        min_sessions=guard.min_sessions,
        min_users=guard.min_users,
    )
