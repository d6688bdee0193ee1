"""Do two answers to the same question agree? Exactly, or within the sketch error.

The v1 store counts distinct users and errored sessions exactly (per-user rows). The v2
store merges Theta sketches (`storage.distinct`): a count of at most `EXACT_UP_TO`
members is still exact, a bigger one is an estimate with relative standard error
`RELATIVE_STANDARD_ERROR`. So an answer agrees with an exact one (ClickHouse's
`uniqExact`) when every counter is equal, every distinct count is equal or, above the
exact limit of a sketch store, within `SIGMAS` standard errors, and every rate made of
distinct counts is within the error those counts propagate. The worst relative error of
the estimated counts is kept, so the report shows how close the estimates were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: How many standard errors an estimate may be off. With 4, a correct sketch fails a
#: check about once in 16,000 estimated values (normal tails), which keeps a run with a
#: few hundred estimated values from failing by chance, while a wrong count (a sum of
#: buckets instead of a union, a missing series) is off by far more.
SIGMAS = 4.0


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Distinct counts up to `exact_up_to` must be equal; above it, within `relative`."""

    exact_up_to: float = math.inf
    relative: float = 0.0

    @property
    def estimates(self) -> bool:
        return self.relative > 0


#: A store that counts exactly (v1, and ClickHouse `uniqExact`).
EXACT = Tolerance()


def sketch_tolerance() -> Tolerance:
    """The tolerance of the v2 sketch codec (`storage.distinct`)."""
    from storage.distinct import EXACT_UP_TO, RELATIVE_STANDARD_ERROR

    return Tolerance(float(EXACT_UP_TO), SIGMAS * RELATIVE_STANDARD_ERROR)


def tolerance_for(schema: str) -> Tolerance:
    """`v1` (per-user rows) is exact; `v2` (sketches) estimates above the exact limit."""
    return EXACT if schema == "v1" else sketch_tolerance()


def close(a: float | None, b: float | None, tol: float = 1e-6) -> bool:
    """Equal up to float noise (relative `tol`, absolute below 1); None only equals None."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


@dataclass
class Agreement:
    """Accumulates the comparisons of one answer (`got`) with the reference (`want`)."""

    tolerance: Tolerance = EXACT
    problems: list[Any] = field(default_factory=list)
    compared: int = 0
    #: Distinct counts above the exact limit, compared within the tolerance.
    estimated: int = 0
    worst_relative_error: float = 0.0

    @property
    def equal(self) -> bool:
        return self.compared > 0 and not self.problems

    def fail(self, what: Any, got: Any, want: Any) -> None:
        self.compared += 1
        self.problems.append((what, got, want))

    def exact(self, what: Any, got: Any, want: Any) -> None:
        """A counter, a rate of counters (equal up to float noise), or any other value."""
        self.compared += 1
        if isinstance(got, float) or isinstance(want, float):
            if not close(got, want):
                self.problems.append((what, got, want))
        elif got != want:
            self.problems.append((what, got, want))

    def distinct(self, what: Any, got: int | None, want: int | None) -> None:
        """A distinct count: equal, or within the tolerance above the exact limit."""
        self.compared += 1
        if got == want:
            return
        if got is None or want is None or want <= self.tolerance.exact_up_to:
            self.problems.append((what, got, want))
            return
        self.estimated += 1
        error = abs(got - want) / want
        self.worst_relative_error = max(self.worst_relative_error, error)
        if error > self.tolerance.relative:
            self.problems.append((what, got, want))

    def including(self, what: Any, got: int | None, want: int | None, part: int) -> None:
        """A count that includes a distinct count of `part` members (healthy and errored
        sessions include the error set): exact while `part` is within the exact limit,
        else off by at most the tolerance of `part`."""
        self.compared += 1
        if got == want:
            return
        if got is None or want is None or part <= self.tolerance.exact_up_to:
            self.problems.append((what, got, want))
            return
        self.estimated += 1
        if abs(got - want) > self.tolerance.relative * part:
            self.problems.append((what, got, want))

    def rate(
        self,
        what: Any,
        got: float | None,
        want: float | None,
        counts: tuple[int, ...],
        complement: bool = False,
    ) -> None:
        """A percentage made of a ratio of distinct counts (`counts`, the exact ones): exact
        when all of them are within the exact limit; otherwise each may be off by the
        relative tolerance, so the ratio by about twice that. A crash-free rate is
        `100 - ratio` (`complement`): its error is measured on the ratio part."""
        if got is None or want is None or max(counts, default=0) <= self.tolerance.exact_up_to:
            self.exact(what, got, want)
            return
        self.compared += 1
        e = self.tolerance.relative
        bound = (1 + e) / (1 - e) - 1
        part = 100.0 - want if complement else want
        if abs(got - want) > bound * abs(part) + 1e-6:
            self.problems.append((what, got, want))

    def summary(self) -> dict[str, Any]:
        return {
            "same_numbers": self.equal,
            "compared": self.compared,
            "estimated": self.estimated,
            "worst_relative_error": round(self.worst_relative_error, 5),
            "differences": [list(map(_jsonable, p)) for p in self.problems[:10]],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
