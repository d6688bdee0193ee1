"""Release-health functions over projects and releases (release-health.md section 5).

Each function takes a batch (a sequence of projects or `(project, release)` pairs) and
returns a mapping keyed the same way, issuing a fixed number of store queries however
many pairs it is asked about: the GraphQL loaders call each one once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from resolvers import formulas
from resolvers.errors import InvalidQuery
from resolvers.filters import both as _both
from resolvers.filters import environment_filter as _environment_filter
from resolvers.filters import pair_key as _pair_key
from resolvers.filters import pairs_filter as _pairs_filter
from resolvers.granularity import check_retained, choose_granularity, retained_granularity
from resolvers.timewindow import (
    InvalidStatsPeriod,
    StatsPeriod,
    parse_stats_period,
    to_intervals,
    widen,
)
from storage.protocol import Store
from storage.types import (
    DAY,
    HOUR,
    Aggregate,
    AggregateQuery,
    And,
    Filter,
    GroupKey,
    ProjectRelease,
    Quantity,
)

ALL_QUANTITIES = frozenset(Quantity)


@dataclass(frozen=True, slots=True)
class ReleaseAdoption:
    """24-hour adoption of a release in its project. Percentages in 0..100, None when
    either count is 0."""

    adoption: float | None
    sessions_adoption: float | None
    users_24h: int
    sessions_24h: int
    project_users_24h: int
    project_sessions_24h: int


@dataclass(frozen=True, slots=True)
class ReleaseOverview:
    """`get_release_health_data_overview` for one pair (section 5.4).

    Counts are sessions or users; rates are percentages in 0..100; durations are seconds.
    `None` means no data (see the null rules of section 3.8). `stats` holds
    `(bucket start unix seconds, value)` when a health stats period was asked for.
    """

    adoption: ReleaseAdoption | None
    total_sessions: int | None
    total_users: int | None
    has_health_data: bool
    sessions_crashed: int
    sessions_errored: int
    sessions_abnormal: int
    sessions_unhandled: int
    crash_free_sessions: float | None
    crash_free_users: float | None
    unhandled_session_rate: float | None
    unhandled_user_rate: float | None
    duration_p50: float | None
    duration_p90: float | None
    stats: list[tuple[int, int]] | None


def stats_period(period: str) -> StatsPeriod:
    try:
        return parse_stats_period(period)
    except InvalidStatsPeriod as exc:
        raise InvalidQuery(str(exc)) from None


# -- 5.1 check_has_health_data ---------------------------------------------------------


async def projects_with_health_data(
    store: Store,
    project_ids: Sequence[int],
    *,
    now: float,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
) -> set[int]:
    """Projects with any counter data in the last 90 days (daily, widened). With
    `retention`, a `now` whose window is already deleted raises `RetentionExceeded`."""
    if not project_ids:
        return set()
    start, end = widen(now - 90 * DAY, now, DAY)
    check_retained(DAY, start, now=now, retention=retention)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(project_ids),
            start=start,
            end=end,
            granularity=DAY,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id",),
            filter=_environment_filter(environments),
        )
    )
    return {
        g.project_id for g, a in result.totals.items() if g.project_id is not None and a.counters.has_data()
    }


async def releases_with_health_data(
    store: Store,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
) -> set[ProjectRelease]:
    """Pairs with any counter data in the last 90 days (daily, widened). As upstream, the
    filter is *project IN … AND release IN …*, so unasked cross combinations may appear."""
    if not pairs:
        return set()
    start, end = widen(now - 90 * DAY, now, DAY)
    check_retained(DAY, start, now=now, retention=retention)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted({p for p, _ in pairs})),
            start=start,
            end=end,
            granularity=DAY,
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "release"),
            filter=_pairs_filter([r for _, r in pairs], environments),
        )
    )
    return {_pair_key(g) for g, a in result.totals.items() if a.counters.has_data()}


# -- 5.2 check_releases_have_health_data -----------------------------------------------


async def releases_have_health_data(
    store: Store,
    project_ids: Sequence[int],
    release_versions: Sequence[str],
    *,
    start: float,
    end: float,
    now: float | None = None,
    retention: Mapping[int, int] | None = None,
) -> set[str]:
    """The releases among `release_versions` with any counter data in `[start, end]`
    (hourly, widened) across the projects. With `now` and `retention`, a range whose
    buckets are gone raises `RetentionExceeded` (`resolvers.granularity`)."""
    if not project_ids or not release_versions:
        return set()
    lo, hi = widen(start, end, HOUR)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted(set(project_ids))),
            start=lo,
            end=hi,
            granularity=choose_granularity(lo, hi, now=now, retention=retention),
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("release",),
            filter=_pairs_filter(release_versions, None),
        )
    )
    return {g.release for g, a in result.totals.items() if g.release is not None and a.counters.has_data()}


# -- 5.3 get_release_adoption ----------------------------------------------------------


async def release_adoption(
    store: Store,
    org_id: int,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
    narrow: Filter | None = None,
) -> dict[ProjectRelease, ReleaseAdoption]:
    """24-hour adoption per pair; pairs whose release never appeared in the org's session
    data are omitted. With `retention`, deleted hourly buckets raise `RetentionExceeded`.
    `narrow` (a client-dimension condition, alert rules) applies to both the release's
    and the project's counts: the release's share of that slice."""
    if not pairs:
        return {}
    start, end = widen(now - DAY, now, HOUR)
    check_retained(HOUR, start, now=now, retention=retention)
    project_ids = tuple(sorted({p for p, _ in pairs}))
    releases = sorted({r for _, r in pairs})
    wanted = frozenset({Quantity.COUNTERS, Quantity.USERS})
    per_release = await store.aggregate(
        AggregateQuery(
            project_ids=project_ids,
            start=start,
            end=end,
            granularity=HOUR,
            quantities=wanted,
            group_by=("project_id", "release"),
            filter=_both(_pairs_filter(releases, environments), narrow),
        )
    )
    per_project = await store.aggregate(
        AggregateQuery(
            project_ids=project_ids,
            start=start,
            end=end,
            granularity=HOUR,
            quantities=wanted,
            group_by=("project_id",),
            filter=_both(_environment_filter(environments), narrow),
        )
    )
    seen = await store.releases_seen_in_org(org_id, releases)
    result: dict[ProjectRelease, ReleaseAdoption] = {}
    for project_id, release in pairs:
        if release not in seen:
            continue
        own = per_release.totals.get(GroupKey(project_id=project_id, release=release))
        total = per_project.totals.get(GroupKey(project_id=project_id))
        sessions = own.counters.started if own else 0
        users = own.users.all if own else 0
        project_sessions = total.counters.started if total else 0
        project_users = total.users.all if total else 0
        result[(project_id, release)] = ReleaseAdoption(
            adoption=formulas.adoption_percentage(users, project_users),
            sessions_adoption=formulas.adoption_percentage(sessions, project_sessions),
            users_24h=users,
            sessions_24h=sessions,
            project_users_24h=project_users,
            project_sessions_24h=project_sessions,
        )
    return result


# -- 5.4 get_release_health_data_overview -----------------------------------------------


async def release_overview(
    store: Store,
    org_id: int,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    environments: Sequence[str] | None = None,
    summary_period: str = "24h",
    health_stats_period: str | None = None,
    stat: str = "sessions",
    with_adoption: bool = True,
    retention: Mapping[int, int] | None = None,
    window: tuple[float, float] | None = None,
    narrow: Filter | None = None,
) -> dict[ProjectRelease, ReleaseOverview]:
    """The release overview of section 5.4. This project applies `environments` to every
    number and uses the same `now` everywhere. `with_adoption=False` leaves `adoption`
    out (None) for callers that get it from `release_adoption` themselves (the GraphQL
    loaders share one adoption computation between `health` and `adoption`). With
    `retention`, windows whose buckets are deleted raise `RetentionExceeded`. `window`
    (unix seconds `[start, end]`, widened to whole hours) replaces the summary period's
    window for the totals (API v2's range scopes). `narrow` (a client-dimension condition:
    alert rules) narrows the totals and adoption to that slice of sessions."""
    summary = stats_period(summary_period)
    if health_stats_period is not None:
        stats_period(health_stats_period)
    if stat not in ("sessions", "users"):
        raise InvalidQuery(f"Invalid stat: {stat}")
    if not pairs:
        return {}
    project_ids = tuple(sorted({p for p, _ in pairs}))
    releases = [r for _, r in pairs]
    flt = _pairs_filter(releases, environments)
    if narrow is not None:
        flt = And((flt, narrow))
    start, end = widen(*(window or (now - summary.seconds, now)), HOUR)
    totals = await store.aggregate(
        AggregateQuery(
            project_ids=project_ids,
            start=start,
            end=end,
            granularity=retained_granularity(start, end, now=now, retention=retention),
            quantities=ALL_QUANTITIES,
            group_by=("project_id", "release"),
            filter=flt,
        )
    )
    series: dict[ProjectRelease, list[tuple[int, int]]] = {}
    if health_stats_period is not None:
        series = await _overview_series(
            store,
            project_ids,
            flt,
            pairs,
            now=now,
            period=summary,
            stat=stat,
            retention=retention,
        )
    adoption = (
        await release_adoption(
            store, org_id, pairs, now=now, environments=environments, retention=retention, narrow=narrow
        )
        if with_adoption
        else {}
    )
    missing = [
        pair for pair in pairs if not (agg := totals.totals.get(GroupKey(*pair))) or not agg.counters.started
    ]
    recheck: set[ProjectRelease] = set()
    if missing and (window is not None or summary_period != "90d"):
        recheck = await releases_with_health_data(
            store, missing, now=now, environments=environments, retention=retention
        )

    result: dict[ProjectRelease, ReleaseOverview] = {}
    for pair in pairs:
        agg = totals.totals.get(GroupKey(*pair))
        c = agg.counters if agg else None
        total_sessions = (c.started or None) if c else None
        total_users = (agg.users.all or None) if agg else None
        crashed = c.crashed if c else 0
        abnormal = c.abnormal if c else 0
        unhandled = c.unhandled if c else 0
        errored_all = (c.errored_preaggr + agg.errored_set) if (c and agg) else 0
        users_crashed = agg.users.crashed if agg else 0
        users_unhandled = agg.users.unhandled if agg else 0
        d = agg.durations if agg else None
        result[pair] = ReleaseOverview(
            adoption=adoption.get(pair),
            total_sessions=total_sessions,
            total_users=total_users,
            has_health_data=bool(total_sessions) or pair in recheck,
            sessions_crashed=crashed,
            sessions_errored=max(0, errored_all - crashed - unhandled - abnormal),
            sessions_abnormal=abnormal,
            sessions_unhandled=unhandled,
            crash_free_sessions=formulas.overview_crash_free_percentage(crashed, total_sessions),
            crash_free_users=formulas.overview_crash_free_percentage(users_crashed, total_users),
            unhandled_session_rate=formulas.share_percentage(unhandled + crashed, total_sessions),
            unhandled_user_rate=formulas.share_percentage(users_unhandled + users_crashed, total_users),
            duration_p50=formulas.duration_quantile(d, 0.5) if d else None,
            duration_p90=formulas.duration_quantile(d, 0.9) if d else None,
            stats=series.get(pair, []) if health_stats_period is not None else None,
        )
    return result


async def _overview_series(
    store: Store,
    project_ids: tuple[int, ...],
    flt: Filter,
    pairs: Sequence[ProjectRelease],
    *,
    now: float,
    period: StatsPeriod,
    stat: str,
    retention: Mapping[int, int] | None = None,
) -> dict[ProjectRelease, list[tuple[int, int]]]:
    """Health stats: the bucket size and window come from the *summary* period (an
    upstream quirk kept on purpose); pairs without data get `buckets` zero entries."""
    size = period.bucket_size
    start, end, _ = to_intervals(now - period.seconds, now, size)
    quantity = Quantity.COUNTERS if stat == "sessions" else Quantity.USERS
    result = await store.aggregate(
        AggregateQuery(
            project_ids=project_ids,
            start=start,
            end=end,
            granularity=retained_granularity(start, end, size, now=now, retention=retention),
            quantities=frozenset({quantity}),
            group_by=("project_id", "release"),
            filter=flt,
            interval=size,
        )
    )
    out: dict[ProjectRelease, list[tuple[int, int]]] = {}
    for pair in pairs:
        buckets = result.series.get(GroupKey(*pair))
        if buckets:
            out[pair] = [(t, _stat_value(buckets.get(t), stat)) for t in range(start, end, size)]
        else:
            first = (int((now - period.seconds) // size) + 1) * size
            out[pair] = [(first + i * size, 0) for i in range(period.buckets)]
    return out


def _stat_value(agg: Aggregate | None, stat: str) -> int:
    if agg is None:
        return 0
    return agg.counters.started if stat == "sessions" else agg.users.all


# -- 5.7 get_changed_project_release_model_adoptions ------------------------------------


async def changed_release_adoptions(
    store: Store,
    project_ids: Sequence[int],
    *,
    now: float,
    retention: Mapping[int, int] | None = None,
) -> list[ProjectRelease]:
    """Pairs with any counter data in the last 72 hours (hourly, widened), sorted by
    project id, then release (upstream leaves the order unspecified)."""
    if not project_ids:
        return []
    start, end = widen(now - 3 * DAY, now, HOUR)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted(set(project_ids))),
            start=start,
            end=end,
            granularity=retained_granularity(start, end, now=now, retention=retention),
            quantities=frozenset({Quantity.COUNTERS}),
            group_by=("project_id", "release"),
        )
    )
    return sorted(_pair_key(g) for g, a in result.totals.items() if a.counters.has_data())


# -- 5.9 / 5.10 releases count and releases by stability --------------------------------

_SCOPES = ("sessions", "users", "crash_free_sessions", "crash_free_users")


def _scope_and_period(scope: str, stats_period_name: str | None) -> tuple[str, StatsPeriod]:
    if scope.endswith("_24h"):
        scope, stats_period_name = scope[: -len("_24h")], "24h"
    return scope, stats_period(stats_period_name or "24h")


def _scope_quantities(scope: str) -> frozenset[Quantity]:
    """What a stability scope reads: crash-free users need the crashed users' sketches,
    plain user counts only the users'."""
    if scope == "crash_free_users":
        return frozenset({Quantity.USERS, Quantity.USER_STATUSES})
    if scope == "users":
        return frozenset({Quantity.USERS})
    return frozenset({Quantity.COUNTERS})


async def _release_totals(
    store: Store,
    project_ids: Sequence[int],
    *,
    period: StatsPeriod,
    now: float,
    environments: Sequence[str] | None,
    quantities: frozenset[Quantity],
    retention: Mapping[int, int] | None = None,
) -> dict[ProjectRelease, Aggregate]:
    start, end = widen(now - period.seconds, now, HOUR)
    result = await store.aggregate(
        AggregateQuery(
            project_ids=tuple(sorted(set(project_ids))),
            start=start,
            end=end,
            granularity=retained_granularity(start, end, now=now, retention=retention),
            quantities=quantities,
            group_by=("project_id", "release"),
            filter=_environment_filter(environments),
        )
    )
    return {_pair_key(g): a for g, a in result.totals.items()}


async def releases_by_stability(
    store: Store,
    project_ids: Sequence[int],
    *,
    now: float,
    scope: str = "sessions",
    stats_period_name: str | None = None,
    environments: Sequence[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
    retention: Mapping[int, int] | None = None,
) -> tuple[list[ProjectRelease], int]:
    """Pairs ordered by `scope` (section 5.10) and the number of pairs considered.
    Null rates sort last; ties break by project id, then release."""
    scope, period = _scope_and_period(scope, stats_period_name)
    if scope not in _SCOPES:
        raise InvalidQuery(f"Invalid scope: {scope}")
    if not project_ids:
        return [], 0
    by_users = scope in ("users", "crash_free_users")
    totals = await _release_totals(
        store,
        project_ids,
        period=period,
        now=now,
        environments=environments,
        quantities=_scope_quantities(scope),
        retention=retention,
    )
    ranked: list[tuple[tuple[int, float], ProjectRelease]] = []
    for pair, agg in totals.items():
        if by_users:
            if not agg.users.all:
                continue
            value: float | None = (
                float(agg.users.all) if scope == "users" else formulas.ratio(agg.users.crashed, agg.users.all)
            )
        else:
            if not agg.counters.has_data():
                continue
            value = (
                float(agg.counters.started)
                if scope == "sessions"
                else formulas.ratio(agg.counters.crashed, agg.counters.started)
            )
        # Descending by value, nulls last.
        ranked.append(((0, -value) if value is not None else (1, 0.0), pair))
    ranked.sort(key=lambda item: (item[0], item[1]))
    ordered = [pair for _, pair in ranked]
    end = None if limit is None else offset + limit
    return ordered[offset:end], len(ordered)


async def releases_count(
    store: Store,
    project_ids: Sequence[int],
    *,
    now: float,
    scope: str = "sessions",
    stats_period_name: str | None = None,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
) -> int:
    """Pairs whose scope quantity over the window is > 0 (section 5.9)."""
    counts = await releases_count_per_project(
        store,
        project_ids,
        now=now,
        scope=scope,
        stats_period_name=stats_period_name,
        environments=environments,
        retention=retention,
    )
    return sum(counts.values())


async def releases_count_per_project(
    store: Store,
    project_ids: Sequence[int],
    *,
    now: float,
    scope: str = "sessions",
    stats_period_name: str | None = None,
    environments: Sequence[str] | None = None,
    retention: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """`releases_count` of each project (0 for a project without such releases), in one
    store call for the whole batch."""
    scope, period = _scope_and_period(scope, stats_period_name)
    counts = dict.fromkeys(project_ids, 0)
    if not project_ids:
        return counts
    totals = await _release_totals(
        store,
        project_ids,
        period=period,
        now=now,
        environments=environments,
        quantities=_scope_quantities(scope),
        retention=retention,
    )
    for (project_id, _), agg in totals.items():
        if scope == "users":
            value = agg.users.all
        elif scope == "crash_free_users":
            value = agg.users.all - agg.users.crashed
        else:
            value = agg.counters.started
        if value > 0:
            counts[project_id] = counts.get(project_id, 0) + 1
    return counts
