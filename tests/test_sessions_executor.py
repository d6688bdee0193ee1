"""Executing sessions queries against an in-memory store (release-health.md 8.5, 8.8, 8.9,
8.11, 8.12, 8.14, 3)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from resolvers.sessions import SessionsQueryContext, SessionsQueryError, build_definition
from resolvers.sessions.executor import execute_sessions_query, run_sessions_query
from resolvers.sessions.pagination import link_header
from storage.sketch import bins_of
from storage.types import (
    USER_ABNORMAL,
    USER_ANR_BACKGROUND,
    USER_ANR_FOREGROUND,
    USER_CRASHED,
    USER_ERRORED,
    USER_SEEN,
    USER_UNHANDLED,
    Aggregate,
    AggregateQuery,
    AggregateResult,
    And,
    Cond,
    Counters,
    Durations,
    Filter,
    GroupKey,
    Or,
    Quantity,
    SessionIncrement,
    Users,
)

# -- an in-memory store that really aggregates -------------------------------------------


def _matches(flt: Filter, fact: SessionIncrement) -> bool:
    if isinstance(flt, And):
        return all(_matches(term, fact) for term in flt.terms)
    if isinstance(flt, Or):
        return any(_matches(term, fact) for term in flt.terms)
    assert isinstance(flt, Cond)
    value = getattr(fact, flt.dimension)
    return (value in flt.values) != flt.negate


def _aggregate(facts: list[SessionIncrement], quantities: frozenset[Quantity]) -> Aggregate:
    agg = Aggregate()
    if Quantity.COUNTERS in quantities:
        agg.counters = Counters(
            started=sum(f.started_count for f in facts),
            crashed=sum(f.crashed for f in facts),
            abnormal=sum(f.abnormal for f in facts),
            unhandled=sum(f.unhandled for f in facts),
            errored_preaggr=sum(f.errored_preaggr for f in facts),
        )
    if Quantity.ERRORS in quantities:
        agg.errored_set = len({f.error_sid for f in facts if f.error_sid is not None})
    if Quantity.USERS in quantities:
        tags: dict[str, int] = defaultdict(int)
        for f in facts:
            if f.user is not None:
                tags[f.user] |= f.user_tags | USER_SEEN
        anr = USER_ANR_FOREGROUND | USER_ANR_BACKGROUND
        agg.users = Users(
            all=len(tags),
            errored=sum(1 for t in tags.values() if t & USER_ERRORED),
            crashed=sum(1 for t in tags.values() if t & USER_CRASHED),
            abnormal=sum(1 for t in tags.values() if t & USER_ABNORMAL),
            unhandled=sum(1 for t in tags.values() if t & USER_UNHANDLED),
            anr=sum(1 for t in tags.values() if t & anr),
            anr_foreground=sum(1 for t in tags.values() if t & USER_ANR_FOREGROUND),
        )
    if Quantity.USER_PRESENCE in quantities:
        agg.has_users = any(f.user is not None for f in facts)
    if Quantity.DURATIONS in quantities:
        values = [f.duration for f in facts if f.duration is not None]
        if values:
            agg.durations = Durations(len(values), sum(values), min(values), max(values), bins_of(values))
    return agg


def _has_data(agg: Aggregate) -> bool:
    return (
        agg.counters.has_data()
        or agg.errored_set > 0
        or agg.users.all > 0
        or agg.has_users
        or agg.durations.count > 0
    )


class FakeStore:
    def __init__(self, facts: list[SessionIncrement]) -> None:
        self.facts = facts
        self.queries: list[AggregateQuery] = []

    async def aggregate(self, query: AggregateQuery) -> AggregateResult:
        self.queries.append(query)
        groups: dict[tuple[GroupKey, int | None], list[SessionIncrement]] = defaultdict(list)
        g = query.granularity
        for fact in self.facts:
            if fact.project_id not in query.project_ids:
                continue
            bucket = math.floor(fact.started / g) * g
            if not query.start <= bucket < query.end:
                continue
            if query.filter is not None and not _matches(query.filter, fact):
                continue
            key = GroupKey(
                project_id=fact.project_id if "project_id" in query.group_by else None,
                release=fact.release if "release" in query.group_by else None,
                environment=fact.environment if "environment" in query.group_by else None,
            )
            slot = None if query.interval is None else bucket // query.interval * query.interval
            groups[(key, slot)].append(fact)
            if query.totals and slot is not None:
                groups[(key, None)].append(fact)
        result = AggregateResult()
        for (key, slot), facts in groups.items():
            agg = _aggregate(facts, query.quantities)
            if not _has_data(agg):
                continue
            if slot is None:
                result.totals[key] = agg
            else:
                result.series.setdefault(key, {})[slot] = agg
        return result


# -- helpers ------------------------------------------------------------------------------

NOW = datetime(2021, 3, 5, 12, 0, 0, tzinfo=UTC)
DAY_START = 1614902400  # 2021-03-05T00:00:00Z
P1 = 1


def ts(hour: float) -> float:
    return DAY_START + hour * 3600


def inc(release="foo@1.0.0", environment="production", hour=1.0, project=P1, **kw):
    return SessionIncrement(project, release, environment, ts(hour), **kw)


def params(query: str) -> list[tuple[str, str]]:
    out = []
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        out.append((key, value))
    return out


async def run(store: FakeStore, query: str, base: str = "project=1&statsPeriod=1d&interval=1d"):
    definition = build_definition(
        params(f"{base}&{query}"),
        SessionsQueryContext(now=NOW, projects={1: "p1", 2: "p2"}),
    )
    return await execute_sessions_query(store, definition)


def by_status(body) -> dict[str, dict]:
    return {g["by"]["session.status"]: g for g in body["groups"]}


# -- the worked examples of 8.14 ---------------------------------------------------------


def example_store() -> FakeStore:
    return FakeStore(
        [
            inc(hour=1, started_count=1),
            inc(hour=2, started_count=1),
            inc(hour=3, started_count=1),
            inc(hour=3.5, crashed=1, error_sid="00000000-0000-0000-0000-000000000003"),
            inc(environment="development", hour=4, started_count=1),
            inc(release="foo@1.1.0", hour=5, started_count=1),
        ]
    )


async def test_example_sum_session():
    result = await run(example_store(), "field=sum(session)")
    body = result.body
    assert body == {
        "start": "2021-03-04T00:00:00Z",
        "end": "2021-03-06T00:00:00Z",
        "intervals": ["2021-03-04T00:00:00Z", "2021-03-05T00:00:00Z"],
        "groups": [{"by": {}, "totals": {"sum(session)": 5}, "series": {"sum(session)": [0, 5]}}],
        "query": "",
    }


@pytest.mark.parametrize("extra", ["environment=development", "query=environment:development"])
async def test_example_environment(extra):
    body = (await run(example_store(), f"field=sum(session)&{extra}")).body
    assert body["groups"][0]["totals"] == {"sum(session)": 1}
    assert body["query"] == ("environment:development" if extra.startswith("query") else "")


async def test_example_group_by_status():
    body = (await run(example_store(), "field=sum(session)&groupBy=session.status")).body
    assert [g["by"] for g in body["groups"]] == [
        {"session.status": s} for s in ("abnormal", "crashed", "errored", "healthy", "unhandled")
    ]
    totals = {s: g["totals"]["sum(session)"] for s, g in by_status(body).items()}
    assert totals == {"abnormal": 0, "crashed": 1, "errored": 0, "healthy": 4, "unhandled": 0}
    assert by_status(body)["healthy"]["series"]["sum(session)"] == [0, 4]


async def test_example_crash_free_rate_ordering():
    body = (
        await run(
            example_store(),
            "field=crash_free_rate(session)&groupBy=release&groupBy=environment"
            "&orderBy=crash_free_rate(session)&query=release:foo@1.0.0",
        )
    ).body
    assert body["groups"] == [
        {
            "by": {"release": "foo@1.0.0", "environment": "production"},
            "totals": {"crash_free_rate(session)": 0.6666666666666667},
            "series": {"crash_free_rate(session)": [None, 0.6666666666666667]},
        },
        {
            "by": {"release": "foo@1.0.0", "environment": "development"},
            "totals": {"crash_free_rate(session)": 1.0},
            "series": {"crash_free_rate(session)": [None, 1.0]},
        },
    ]


async def test_example_pagination():
    store = example_store()
    base = "field=sum(session)&groupBy=release&orderBy=sum(session)&per_page=1"
    first = await run(store, base)
    assert [(g["by"], g["totals"]) for g in first.body["groups"]] == [
        ({"release": "foo@1.1.0"}, {"sum(session)": 1})
    ]
    assert (str(first.next), first.next.has_results) == ("0:1:0", True)
    assert (str(first.previous), first.previous.has_results) == ("0:0:1", False)
    url = "http://x/api/0/organizations/o/sessions/?field=sum(session)&per_page=1"
    assert link_header(url, first.previous, first.next) == (
        f'<{url}&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{url}&cursor=0:1:0>; rel="next"; results="true"; cursor="0:1:0"'
    )
    second = await run(store, f"{base}&cursor={first.next}")
    assert [(g["by"], g["totals"]) for g in second.body["groups"]] == [
        ({"release": "foo@1.0.0"}, {"sum(session)": 4})
    ]
    assert second.next.has_results is False
    assert (str(second.previous), second.previous.has_results) == ("0:0:1", True)


async def test_example_rate_with_status_filter_is_an_error():
    with pytest.raises(SessionsQueryError) as info:
        await run(example_store(), "field=crash_rate(session)&query=session.status:[abnormal,crashed]")
    assert info.value.message == "Cannot filter field crash_rate(session) by session.status"


async def test_example_bogus_status_is_empty():
    store = example_store()
    body = (await run(store, "field=sum(session)&query=session.status:bogus")).body
    assert body["groups"] == []
    assert body["intervals"] == ["2021-03-04T00:00:00Z", "2021-03-05T00:00:00Z"]
    assert body["query"] == "session.status:bogus"
    assert store.queries == []


# -- group existence (8.8) ---------------------------------------------------------------


async def test_anr_rate_omits_environment_without_users():
    store = FakeStore(
        [
            inc(environment="a", started_count=1, user="u1", user_tags=USER_SEEN),
            inc(environment="b", started_count=1),
            inc(environment="c", user="u2", user_tags=USER_SEEN),
        ]
    )
    anr = (await run(store, "field=anr_rate()&groupBy=environment")).body
    assert [g["by"] for g in anr["groups"]] == [{"environment": "a"}, {"environment": "c"}]
    crash = (await run(store, "field=crash_rate(session)&groupBy=environment")).body
    rates = {g["by"]["environment"]: g["totals"]["crash_rate(session)"] for g in crash["groups"]}
    assert rates == {"a": 0.0, "b": 0.0}


async def test_sum_session_group_existence():
    store = FakeStore(
        [
            inc(release="crash-only", crashed=1, error_sid="s1"),
            inc(release="errors-only", error_sid="s2", user="u", user_tags=USER_ERRORED),
            inc(release="normal", started_count=2),
        ]
    )
    body = (await run(store, "field=sum(session)&groupBy=release")).body
    totals = {g["by"]["release"]: g["totals"]["sum(session)"] for g in body["groups"]}
    assert totals == {"normal": 2, "crash-only": 0}
    body = (await run(store, "field=sum(session)&groupBy=release&groupBy=session.status")).body
    releases = {g["by"]["release"] for g in body["groups"]}
    assert releases == {"normal", "crash-only", "errors-only"}
    errored = [
        g["totals"]["sum(session)"]
        for g in body["groups"]
        if g["by"] == {"release": "errors-only", "session.status": "errored"}
    ]
    assert errored == [1]


async def test_nothing_matched():
    store = FakeStore([])
    body = (await run(store, "field=sum(session)&field=crash_rate(session)")).body
    assert body["groups"] == [
        {
            "by": {},
            "totals": {"sum(session)": 0, "crash_rate(session)": None},
            "series": {"sum(session)": [0, 0], "crash_rate(session)": [None, None]},
        }
    ]
    body = (await run(store, "field=sum(session)&groupBy=session.status")).body
    assert [g["totals"]["sum(session)"] for g in body["groups"]] == [0, 0, 0, 0, 0]
    body = (await run(store, "field=sum(session)&groupBy=session.status&query=session.status:crashed")).body
    assert [g["by"] for g in body["groups"]] == [{"session.status": "crashed"}]
    body = (await run(store, "field=sum(session)&groupBy=release")).body
    assert body["groups"] == []


async def test_removed_fields_short_circuit():
    store = example_store()
    body = (await run(store, "field=p50(session.duration)&query=session.status:crashed")).body
    assert body["groups"] == []


async def test_data_outside_the_range_is_ignored():
    store = FakeStore([inc(hour=-30, started_count=7), inc(hour=1, started_count=1)])
    body = (await run(store, "field=sum(session)")).body
    assert body["groups"][0]["totals"] == {"sum(session)": 1}


# -- field values (3, 8.9, 8.10) ---------------------------------------------------------


def six_users() -> FakeStore:
    def user(name: str, tags: int, hour: float = 1):
        return inc(hour=hour, started_count=1, user=name, user_tags=USER_SEEN | tags)

    return FakeStore(
        [
            user("U1", 0),
            user("U2", USER_ERRORED),
            user("U3", USER_ERRORED | USER_CRASHED),
            user("U4", USER_ERRORED | USER_ABNORMAL),
            user("U5", 0),
            user("U6", 0),
        ]
    )


async def test_user_status_counts():
    body = (await run(six_users(), "field=count_unique(user)&groupBy=session.status")).body
    totals = {s: g["totals"]["count_unique(user)"] for s, g in by_status(body).items()}
    assert totals == {"abnormal": 1, "crashed": 1, "errored": 1, "healthy": 3, "unhandled": 0}
    body = (await run(six_users(), "field=count_unique(user)&query=session.status:healthy")).body
    assert body["groups"][0]["totals"] == {"count_unique(user)": 3}


async def test_user_rates():
    fields = (
        "field=crash_rate(user)&field=crash_free_rate(user)&field=errored_rate(user)"
        "&field=abnormal_rate(user)&field=unhandled_rate(user)&field=count_unique(user)"
    )
    totals = (await run(six_users(), fields)).body["groups"][0]["totals"]
    assert totals == {
        "crash_rate(user)": 1 / 6,
        "crash_free_rate(user)": 0.8333333333333334,
        "errored_rate(user)": 0.5,
        "abnormal_rate(user)": 1 / 6,
        "unhandled_rate(user)": 0.0,
        "count_unique(user)": 6,
    }


async def test_anr_rates():
    store = FakeStore(
        [
            inc(user="a", user_tags=USER_ABNORMAL | USER_ANR_FOREGROUND),
            inc(user="b", user_tags=USER_ABNORMAL | USER_ANR_BACKGROUND),
            inc(user="c", user_tags=USER_SEEN),
            inc(user="d", user_tags=USER_SEEN),
        ]
    )
    totals = (await run(store, "field=anr_rate()&field=foreground_anr_rate()")).body["groups"][0]
    assert totals["totals"] == {"anr_rate()": 0.5, "foreground_anr_rate()": 0.25}


async def test_distinct_counts_are_unions_over_the_range():
    store = FakeStore(
        [
            inc(hour=-20, user="u", user_tags=USER_SEEN, started_count=1),
            inc(hour=2, user="u", user_tags=USER_ERRORED | USER_CRASHED, crashed=1),
        ]
    )
    body = (await run(store, "field=count_unique(user)&groupBy=session.status")).body
    groups = by_status(body)
    assert groups["healthy"]["series"]["count_unique(user)"] == [1, 0]
    assert groups["crashed"]["series"]["count_unique(user)"] == [0, 1]
    assert groups["healthy"]["totals"]["count_unique(user)"] == 0
    assert groups["crashed"]["totals"]["count_unique(user)"] == 1


async def test_session_rates_and_status_sums():
    store = FakeStore(
        [
            inc(started_count=10, errored_preaggr=4, crashed=1, abnormal=1, unhandled=1),
            inc(error_sid="e1"),
            inc(error_sid="e1"),
        ]
    )
    fields = (
        "field=crash_rate(session)&field=crash_free_rate(session)&field=abnormal_rate(session)"
        "&field=unhandled_rate(session)&field=errored_rate(session)&field=unhealthy_rate(session)"
    )
    totals = (await run(store, fields)).body["groups"][0]["totals"]
    assert totals == {
        "crash_rate(session)": 0.1,
        "crash_free_rate(session)": 0.9,
        "abnormal_rate(session)": 0.1,
        "unhandled_rate(session)": 0.1,
        "errored_rate(session)": 0.5,
        "unhealthy_rate(session)": 0.5,
    }
    # errored_all 5; errored 5 - 3 = 2; healthy 10 - 5 = 5
    body = (await run(store, "field=sum(session)&query=!session.status:healthy")).body
    assert body["groups"][0]["totals"] == {"sum(session)": 5}
    body = (await run(store, "field=sum(session)&query=session.status:[healthy, errored]")).body
    assert body["groups"][0]["totals"] == {"sum(session)": 7}


async def test_rates_are_clamped():
    store = FakeStore([inc(started_count=1), inc(crashed=3)])
    totals = (await run(store, "field=crash_rate(session)&field=crash_free_rate(session)")).body["groups"][0][
        "totals"
    ]
    assert totals == {"crash_rate(session)": 1.0, "crash_free_rate(session)": 0.0}


async def test_durations():
    store = FakeStore(
        [inc(duration=d, hour=1 + i / 10) for i, d in enumerate([25, 25, 25, 30, 37, 49, 68, 80])]
    )
    fields = "&".join(
        f"field={f}(session.duration)" for f in ("avg", "p50", "p75", "p90", "p95", "p99", "max")
    )
    totals = (await run(store, fields)).body["groups"][0]["totals"]
    assert totals["avg(session.duration)"] == 42375.0
    assert totals["max(session.duration)"] == 80000.0
    expected = {"p50": 33500, "p75": 53750, "p90": 71600, "p95": 75800, "p99": 79160}
    for name, value in expected.items():  # from the sketch: within 1 %
        assert totals[f"{name}(session.duration)"] == pytest.approx(value, rel=0.01)
    body = (await run(store, f"{fields}&groupBy=session.status")).body
    groups = by_status(body)
    assert groups["healthy"]["totals"]["avg(session.duration)"] == 42375.0
    assert groups["crashed"]["totals"]["avg(session.duration)"] is None
    assert groups["healthy"]["series"]["max(session.duration)"] == [None, 80000.0]


async def test_no_durations_is_null():
    body = (await run(FakeStore([inc(started_count=1)]), "field=avg(session.duration)")).body
    assert body["groups"][0]["totals"] == {"avg(session.duration)": None}


# -- response shape, ordering and limits -------------------------------------------------


async def test_by_keys_and_null_environment():
    store = FakeStore(
        [
            inc(environment=None, started_count=1),
            inc(environment="", started_count=2),
            inc(project=2, environment="x", started_count=3),
        ]
    )
    body = (
        await run(
            store,
            "field=sum(session)&groupBy=project&groupBy=environment",
            base="project=-1&statsPeriod=1d&interval=1d",
        )
    ).body
    assert [g["by"] for g in body["groups"]] == [
        {"project": 2, "environment": "x"},
        {"project": 1, "environment": ""},
        {"project": 1},
    ]


async def test_default_order_ties_and_limit():
    store = FakeStore(
        [
            inc(release="b", started_count=2),
            inc(release="a", started_count=2),
            inc(release="c", started_count=5),
            inc(release="d", crashed=1),
        ]
    )
    body = (await run(store, "field=sum(session)&groupBy=release")).body
    assert [g["by"]["release"] for g in body["groups"]] == ["c", "a", "b", "d"]
    body = (await run(store, "field=sum(session)&groupBy=release&orderBy=sum(session)")).body
    assert [g["by"]["release"] for g in body["groups"]] == ["d", "a", "b", "c"]
    definition = build_definition(
        params("project=1&statsPeriod=1d&interval=1d&field=sum(session)&groupBy=release"),
        SessionsQueryContext(now=NOW, projects={1: "p1"}, budget=4),
    )
    assert definition.limit == 2
    body = await run_sessions_query(store, definition)
    assert [g["by"]["release"] for g in body["groups"]] == ["c", "a"]


async def test_rate_ordering_puts_nulls_last():
    store = FakeStore(
        [
            inc(release="a", started_count=2, crashed=1),
            inc(release="b", crashed=1),
            inc(release="c", started_count=4),
        ]
    )
    for order in ("crash_free_rate(session)", "-crash_free_rate(session)"):
        body = (await run(store, f"field=crash_free_rate(session)&groupBy=release&orderBy={order}")).body
        releases = [g["by"]["release"] for g in body["groups"]]
        assert releases[-1] == "b"
        assert releases[:2] == (["a", "c"] if order[0] != "-" else ["c", "a"])


async def test_include_flags():
    store = example_store()
    body = (await run(store, "field=sum(session)&includeTotals=0")).body
    assert body["groups"] == [{"by": {}, "series": {"sum(session)": [0, 5]}}]
    store = example_store()
    body = (await run(store, "field=sum(session)&includeSeries=0")).body
    assert body["groups"] == [{"by": {}, "totals": {"sum(session)": 5}}]
    assert body["intervals"] == ["2021-03-04T00:00:00Z", "2021-03-05T00:00:00Z"]
    assert [q.interval for q in store.queries] == [None]


async def test_storage_queries_issued():
    store = example_store()
    await run(store, "field=sum(session)&groupBy=release&environment=production")
    totals, series = store.queries
    assert totals.interval is None and series.interval == 86400
    assert totals.granularity == 86400 and totals.group_by == ("release",)
    assert totals.filter == Cond("environment", ("production",))
    assert totals.quantities == {Quantity.COUNTERS}


async def test_status_groups_multiply_the_page():
    store = example_store()
    body = (await run(store, "field=sum(session)&groupBy=release&groupBy=session.status&per_page=1")).body
    assert len(body["groups"]) == 5
    assert {g["by"]["release"] for g in body["groups"]} == {"foo@1.0.0"}


async def test_sub_hour_interval_series():
    store = FakeStore([inc(hour=11.5, started_count=1), inc(hour=11.75, started_count=2)])
    body = await run(store, "field=sum(session)", base="project=1&statsPeriod=1h&interval=30m")
    assert body.body["intervals"] == ["2021-03-05T11:00:00Z", "2021-03-05T11:30:00Z"]
    assert body.body["groups"][0]["series"] == {"sum(session)": [0, 3]}


async def test_series_query_is_restricted_to_the_page():
    store = FakeStore(
        [
            inc(release="a", environment=None, started_count=3),
            inc(release="b", environment="x", started_count=2),
            inc(release="c", environment="y", started_count=1),
        ]
    )
    result = await run(store, "field=sum(session)&groupBy=release&groupBy=environment&per_page=2")
    assert [g["by"] for g in result.body["groups"]] == [
        {"release": "a"},
        {"release": "b", "environment": "x"},
    ]
    assert result.body["groups"][0]["series"] == {"sum(session)": [0, 3]}
    assert store.queries[1].filter == Or(
        (
            And((Cond("release", ("a",)), Cond("environment", (None,)))),
            And((Cond("release", ("b",)), Cond("environment", ("x",)))),
        )
    )
    store.queries.clear()
    await run(store, "field=sum(session)&groupBy=release&per_page=1&environment=x&environment=y")
    assert store.queries[1].filter == And((Cond("environment", ("x", "y")), Cond("release", ("b",))))


async def test_user_counts_not_ordering_come_from_the_page_series():
    """Ordered by sessions, the totals query only finds which groups have users; the page's
    user totals come from its series query (one read of the page's rows)."""
    facts = [
        inc(release="a", hour=1, started_count=2, user="U1", user_tags=USER_SEEN),
        inc(release="a", hour=2, user="U2", user_tags=USER_SEEN | USER_CRASHED),
        inc(release="b", hour=1, started_count=1, user="U1", user_tags=USER_SEEN),
        # Users and no counter: the group exists (8.8) though it has no session started.
        inc(release="c", hour=3, user="U3", user_tags=USER_SEEN),
    ]
    query = "field=sum(session)&field=count_unique(user)&field=crash_free_rate(user)&groupBy=release"
    store = FakeStore(facts)
    body = (await run(store, query)).body
    totals, series = store.queries
    assert totals.quantities == {Quantity.COUNTERS, Quantity.USER_PRESENCE}
    assert series.totals and series.quantities == {
        Quantity.COUNTERS,
        Quantity.USERS,
        Quantity.USER_STATUSES,
    }
    got = {g["by"]["release"]: (g["totals"], g["series"]["count_unique(user)"]) for g in body["groups"]}
    assert got == {
        "a": ({"sum(session)": 2, "count_unique(user)": 2, "crash_free_rate(user)": 0.5}, [0, 2]),
        "b": ({"sum(session)": 1, "count_unique(user)": 1, "crash_free_rate(user)": 1.0}, [0, 1]),
        "c": ({"sum(session)": 0, "count_unique(user)": 1, "crash_free_rate(user)": 1.0}, [0, 1]),
    }
    assert [g["by"]["release"] for g in body["groups"]] == ["a", "b", "c"]
    # Without series there is no page read to take them from: the totals count them.
    store = FakeStore(facts)
    body = (await run(store, query + "&includeSeries=0")).body
    assert [q.quantities for q in store.queries] == [
        {Quantity.COUNTERS, Quantity.USERS, Quantity.USER_STATUSES}
    ]
    assert body["groups"][0]["totals"]["count_unique(user)"] == 2
