# mypy: disable-error-code="untyped-decorator"
"""The inputs of release comparison (`ReleaseHealth.comparison`) and their checks: bad
input is `BAD_USER_INPUT`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.core.dimension_filter import DimensionFilter
from gql.core.errors import BadUserInput
from resolvers import comparison as stats
from resolvers.release_comparison import AGAINST_BASELINE, AGAINST_PREVIOUS, AGAINST_RELEASE, Target


@strawberry.input(one_of=True, description="What to compare against: exactly one of the three.")
class ComparisonTarget:
    release: str | None = strawberry.field(
        default=strawberry.UNSET, description="Another release of the same project, by version."
    )
    previous_release: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="`true`: the release first seen just before this one (in the scope's environments).",
    )
    baseline: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="`true`: every other release of the project over the same window together.",
    )


def target_of(against: ComparisonTarget) -> Target:
    given = {
        k: v
        for k, v in (
            ("release", against.release),
            ("previousRelease", against.previous_release),
            ("baseline", against.baseline),
        )
        if v is not None and v is not strawberry.UNSET
    }
    if len(given) != 1:
        raise BadUserInput("A comparison target is exactly one of `release`, `previousRelease`, `baseline`.")
    if against.release is not None and against.release is not strawberry.UNSET:
        return Target(AGAINST_RELEASE, against.release)
    if given.get("previousRelease") is True:
        return Target(AGAINST_PREVIOUS)
    if given.get("baseline") is True:
        return Target(AGAINST_BASELINE)
    raise BadUserInput("`previousRelease` and `baseline` are `true` when given.")


def guard_of(min_sessions: int | None, min_users: int | None) -> stats.Guard:
    """The volume guard asked (defaults for null); BAD_USER_INPUT below 0."""
    guard = stats.Guard(
        stats.DEFAULT_MIN_SESSIONS if min_sessions is None else min_sessions,
        stats.DEFAULT_MIN_USERS if min_users is None else min_users,
    )
    if guard.min_sessions < 0 or guard.min_users < 0:
        raise BadUserInput("`minSessions` and `minUsers` are 0 or more.")
    return guard


#: The arguments of `ReleaseHealth.comparison`.
AgainstArg = Annotated[ComparisonTarget, strawberry.argument(description="What to compare against.")]
FilterArg = Annotated[
    DimensionFilter | None,
    strawberry.argument(description="Only sessions with this dimension value; null for all."),
]
MinSessionsArg = Annotated[
    int | None, strawberry.argument(description="Sessions each side needs for a verdict; null for 100.")
]
MinUsersArg = Annotated[
    int | None, strawberry.argument(description="Users each side needs for a verdict; null for 20.")
]
