"""What a question is scoped to: the request's one clock (or a field's `now`) and the
environments, in the forms the loaders' keys hold; API v2's `HealthScope`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import strawberry

from gql.core.context import ContextInfo
from gql.core.enums import Period
from gql.core.errors import BadUserInput
from resolvers.timewindow import InvalidStatsPeriod, parse_stats_period


def reference_time(info: ContextInfo, now: datetime | None, inherited: float | None = None) -> float:
    """The request's one clock, unless the field passes its own `now` or its parent was
    asked with one (a release listed by `releases(now: …)` answers at that `now`)."""
    if now is not None:
        return now.timestamp()
    return inherited if inherited is not None else info.context.now


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def env_tuple(environments: list[str] | None) -> tuple[str, ...] | None:
    """Hashable, for a loader key; None (no filter) stays distinct from an empty list."""
    return None if environments is None else tuple(environments)


# -- API v2: the health scope -----------------------------------------------------------
#
# Numbers begin at a `health(scope:)` field; the scope is resolved once there and handed to
# every child object (Saleor's ChannelContext), and it is part of the id of every object
# whose numbers depend on it, so a normalized client cache can never mix two scopes.


@strawberry.input(description="A time range `[start, end]`.")
class TimeRange:
    start: datetime = strawberry.field(description="The first instant of the range.")
    end: datetime = strawberry.field(description="The last instant of the range (after `start`).")


@strawberry.input(one_of=True, description="The window of a health scope: exactly one of the two.")
class ScopeWindow:
    period: Period | None = strawberry.field(
        default=strawberry.UNSET, description="A window ending at the scope's `at`."
    )
    range: TimeRange | None = strawberry.field(
        default=strawberry.UNSET, description="An explicit range, widened to whole hours."
    )


@strawberry.input(
    description="What release-health numbers are computed over: a window, environments and "
    "the instant they are evaluated at. Chosen once, at `health(scope:)`, and carried to "
    "every object below it."
)
class HealthScope:
    window: ScopeWindow = strawberry.field(description="The time window.")
    environments: list[str] | None = strawberry.field(
        default=None,
        description="Only sessions of these environments (an empty name means sessions "
        "without one); null for every environment.",
    )
    at: datetime | None = strawberry.field(
        default=None,
        description="The instant the numbers are evaluated at (what `now` is for retention, "
        "adoption and periods); null for the instant the request arrived, the same for "
        "every field of the request.",
    )


#: The widest range a scope may span (the store keeps 90 days).
MAX_RANGE_SECONDS = 90 * 86400 + 3600
#: At most this many environments in one scope.
MAX_ENVIRONMENTS = 100


@dataclass(frozen=True, slots=True)
class Scope:
    """A resolved health scope: `period` or None for a range; `start`/`end` in unix
    seconds (for a period: its length before `at`); `environments` None for all; `at`
    the evaluation instant.

    Its identity (`key()`, part of every scoped id) is what the client chose: the period
    or the range, the environments, and `at` only when the client gave it. A scope
    without `at` is *live* ("the last 24 hours"): its objects keep one id from request to
    request, so a cache updates them in place and pages merge, while two explicit
    instants are two objects. `shift` counts `previousPeriod` steps back from a period.
    """

    period: Period | None
    start: float
    end: float
    environments: tuple[str, ...] | None
    at: float
    given_at: float | None = None
    shift: int = 0

    @classmethod
    def of(cls, given: HealthScope, clock: float) -> Scope:
        window = given.window
        period = window.period or None
        span = window.range or None
        if (period is None) == (span is None):  # @oneOf is validated; variables too
            raise BadUserInput("A scope window is exactly one of `period` and `range`.")
        given_at = None if given.at is None else given.at.timestamp()
        environments = None if given.environments is None else tuple(dict.fromkeys(given.environments))
        if environments is not None and len(environments) > MAX_ENVIRONMENTS:
            raise BadUserInput(f"A scope has at most {MAX_ENVIRONMENTS} environments.")
        if period is not None:
            return cls.of_period(period, environments, given_at, 0, clock)
        assert span is not None
        start, end = span.start.timestamp(), span.end.timestamp()
        if not start < end:
            raise BadUserInput("A scope range needs `start` before `end`.")
        if end - start > MAX_RANGE_SECONDS:
            raise BadUserInput("A scope range spans at most 90 days.")
        return cls(None, start, end, environments, clock if given_at is None else given_at, given_at)

    @classmethod
    def of_period(
        cls,
        period: Period,
        environments: tuple[str, ...] | None,
        given_at: float | None,
        shift: int,
        clock: float,
    ) -> Scope:
        """A period `shift` lengths before the one ending at `given_at` (or the clock);
        a shifted window is evaluated at its own end."""
        seconds = parse_stats_period(period.value).seconds
        end = (clock if given_at is None else given_at) - shift * seconds
        return cls(period, end - seconds, end, environments, end, given_at, shift)

    @classmethod
    def from_key(cls, key: Any, clock: float) -> Scope:
        """The scope a global id holds (`key()`), a live one at `clock`;
        `BAD_USER_INPUT` for anything else."""
        try:
            envs = key["e"]
            environments = None if envs is None else tuple(str(e) for e in envs)
            given_at = None if key["a"] is None else float(key["a"])
            if key.get("p") is not None:
                return cls.of_period(Period[key["p"]], environments, given_at, int(key["o"]), clock)
            at = clock if given_at is None else given_at
            return cls(None, float(key["s"]), float(key["t"]), environments, at, given_at)
        except (KeyError, TypeError, ValueError, AttributeError, InvalidStatsPeriod):
            raise BadUserInput("Invalid id: its scope is not one this API issued") from None

    def key(self) -> dict[str, Any]:
        """The scope's identity as it goes into global ids (compact JSON)."""
        envs = None if self.environments is None else list(self.environments)
        if self.period is not None:
            return {"p": self.period.name, "o": self.shift, "e": envs, "a": self.given_at}
        return {"s": self.start, "t": self.end, "e": envs, "a": self.given_at}

    def previous(self) -> Scope:
        """The window of the same length just before this one, evaluated at its end."""
        if self.period is not None:
            base = self.end + self.shift * (self.end - self.start)  # the unshifted window's end
            return Scope.of_period(self.period, self.environments, self.given_at, self.shift + 1, base)
        length = self.end - self.start
        # A range is explicit: its previous range is too, and so is the instant it is
        # evaluated at.
        return Scope(None, self.start - length, self.start, self.environments, self.start, self.start)

    @property
    def environment_list(self) -> list[str] | None:
        return None if self.environments is None else list(self.environments)


@strawberry.type(description="The scope an object's numbers were computed in.")
class ResolvedScope:
    period: Period | None = strawberry.field(description="The period; null for a range window.")
    start: datetime = strawberry.field(description="The window's first instant (before widening).")
    end: datetime = strawberry.field(description="The window's last instant (before widening).")
    environments: list[str] | None = strawberry.field(description="The environments; null for all.")
    at: datetime = strawberry.field(description="The instant the numbers were evaluated at.")

    @classmethod
    def of(cls, scope: Scope) -> ResolvedScope:
        return cls(
            period=scope.period,
            start=as_datetime(scope.start),
            end=as_datetime(scope.end),
            environments=scope.environment_list,
            at=as_datetime(scope.at),
        )
