"""Release comparison, the numbers (issue 10 section 1): the counts behind every compared
rate, from the typed sessions core (the service the REST sessions endpoint runs), so a
release's numbers equal what `/api/0/organizations/{org}/sessions/` answers for the same
window, environments and filter. Shared by GraphQL and REST.

One sessions query per (window, environments, filter) answers every release of every
project asked (grouped by project and release), which is why a page of releases compared
costs the same statements as one release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from resolvers.comparison import METRICS, Comparison, Counts, Guard, compare
from resolvers.options import QueryOptions
from resolvers.sessions.fields import COUNT_UNIQUE_USER, SUM_SESSION
from resolvers.sessions.request import SearchFilter, SessionsRequest
from resolvers.sessions.result import SessionsGroup
from resolvers.sessions.service import sessions_query
from resolvers.sessions.time_range import DateRange
from storage.protocol import Store
from storage.types import SeriesInfo

#: Each count is its sessions-endpoint rate times the rate's denominator: the rates are
#: exact ratios of integers, so `round(rate * n)` gives the integer back exactly.
RATE_COUNTS = {
    "crash_rate(session)": "crashed",
    "errored_rate(session)": "errored",
    "abnormal_rate(session)": "abnormal",
    "unhandled_rate(session)": "unhandled",
}
CRASHED_USERS = "crash_rate(user)"
FIELDS = (SUM_SESSION, COUNT_UNIQUE_USER, *RATE_COUNTS, CRASHED_USERS)
#: Totals only; one hour keeps every client-dimension filter valid.
INTERVAL = 3600
#: The most releases one comparison sees in a project's window (the query's page limit).
MAX_RELEASES = 5000


@dataclass(frozen=True, slots=True)
class Window:
    """Where the numbers are counted: `[start, end]` and the evaluation instant `at`
    (unix seconds), and the environments (None for all)."""

    start: float
    end: float
    at: float
    environments: tuple[str, ...] | None


def counts_of(group: SessionsGroup) -> Counts:
    """A group's counts (0 for what it lacks); `project_sessions` is left 0."""
    totals = group.totals or {}

    def number(name: str) -> float:
        value = totals.get(name)
        return float(value) if isinstance(value, int | float) else 0.0

    sessions, users = round(number(SUM_SESSION)), round(number(COUNT_UNIQUE_USER))
    by_rate = {name: round(number(rate) * sessions) for rate, name in RATE_COUNTS.items()}
    return Counts(
        sessions=sessions, users=users, crashed_users=round(number(CRASHED_USERS) * users), **by_rate
    )


@dataclass(frozen=True, slots=True)
class ProjectCounts:
    """Every release of one project in one window: release -> counts, each carrying the
    project's sessions as its adoption denominator."""

    releases: Mapping[str, Counts] = field(default_factory=dict)

    @property
    def project_sessions(self) -> int:
        return sum(c.sessions for c in self.releases.values())

    def of(self, release: str) -> Counts:
        return self.releases.get(release, Counts(project_sessions=self.project_sessions))

    def baseline(self, release: str) -> Counts:
        """Every other release of the project together. Counters add up exactly (a session
        has one release); users are summed per release, so a user seen in two other
        releases counts twice (a distinct count cannot be subtracted)."""
        total = Counts(project_sessions=self.project_sessions)
        for name, counts in self.releases.items():
            if name != release:
                total += replace(counts, project_sessions=0)
        return total


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dimension_query(key: str, value: str) -> str:
    """The sessions `query` of one client-dimension filter, e.g. `os.name:"iOS"`."""
    return f"{key}:{_quoted(value)}"


async def counts_by_project(
    store: Store,
    *,
    org_id: int,
    projects: Mapping[int, str],
    window: Window,
    query: str,
    now: float,
    options: QueryOptions,
) -> dict[int, ProjectCounts]:
    """Every release's counts in each of `projects` (id -> slug, all readable). The
    environments must be known to the organization (an empty tuple counts nothing).
    Raises `SessionsQueryError` for a bad `query`."""
    if not projects or window.environments == ():
        return {p: ProjectCounts() for p in projects}
    request = SessionsRequest(
        fields=FIELDS,
        now=datetime.fromtimestamp(window.at, UTC),
        group_by=("project", "release"),
        time_range=DateRange(
            datetime.fromtimestamp(window.start, UTC), datetime.fromtimestamp(window.end, UTC)
        ),
        interval=INTERVAL,
        environments=window.environments or (),
        projects=tuple(projects),
        filter=SearchFilter.parse(query),
        order_by=(f"-{SUM_SESSION}",),
        per_page=MAX_RELEASES,
        include_series=False,
    )
    result = await sessions_query(
        store, org_id=org_id, projects=projects, request=request, now=now, options=options
    )
    found: dict[int, dict[str, Counts]] = {p: {} for p in projects}
    for group in result.groups:
        project, release = group.by.get("project"), group.by.get("release")
        if isinstance(project, int) and isinstance(release, str) and project in found:
            found[project][release] = counts_of(group)
    answer: dict[int, ProjectCounts] = {}
    for project, releases in found.items():
        total = sum(c.sessions for c in releases.values())
        answer[project] = ProjectCounts({r: replace(c, project_sessions=total) for r, c in releases.items()})
    return answer


def first_seen(series: Sequence[SeriesInfo], environments: tuple[str, ...] | None) -> dict[str, int]:
    """Release -> when it was first seen (unix seconds, 0 when unknown) in one project's
    series, counting only the given environments (all for None)."""
    seen: dict[str, int] = {}
    for s in series:
        if environments is not None and s.environment not in environments:
            continue
        when = s.first_seen if s.first_seen is not None else 0
        seen[s.release] = min(seen.get(s.release, when), when)
    return seen


def previous_release(seen: Mapping[str, int], release: str) -> str | None:
    """The release first seen just before `release`: the one after it in the order
    `Project.releases` lists releases (most recently first seen first, ties by name).
    None when `release` was never seen there or is the oldest."""
    if release not in seen:
        return None
    ordered = sorted(seen, key=lambda r: (-seen[r], r))
    at = ordered.index(release) + 1
    return ordered[at] if at < len(ordered) else None


#: What a release is compared against.
AGAINST_RELEASE, AGAINST_PREVIOUS, AGAINST_BASELINE = "release", "previous", "baseline"


@dataclass(frozen=True, slots=True)
class Target:
    """`kind` is one of `AGAINST_*`; `release` the version for `AGAINST_RELEASE`."""

    kind: str
    release: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A comparison with what it compared: the target release's name (None for the
    baseline, or when there is no previous release) and both sides' counts (`target`
    None when there is no target)."""

    target_release: str | None
    release: Counts
    target: Counts | None
    comparison: Comparison


def decide(
    counts: ProjectCounts, seen: Mapping[str, int], release: str, target: Target, guard: Guard
) -> Outcome:
    """Compare `release` in its project's `counts` against `target`; `seen` is the
    project's first-seen times in the scope's environments (for the previous release).
    Against the baseline, adoption is not compared: the others' share is one minus the
    release's."""
    mine = counts.of(release)
    metrics = METRICS
    other: Counts | None
    if target.kind == AGAINST_BASELINE:
        name, other = None, counts.baseline(release)
        metrics = tuple(m for m in METRICS if m.name != "adoption")
    elif target.kind == AGAINST_PREVIOUS:
        name = previous_release(seen, release)
        other = None if name is None else counts.of(name)
    else:
        name = target.release
        other = counts.of(name or "")
    return Outcome(name, mine, other, compare(mine, other, guard, metrics=metrics))
