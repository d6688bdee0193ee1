"""The sessions query definition: evaluation order and error catalogue (release-health.md
8.13), filters, status filter effects, limits and the budget (8.8, 8.10, 8.12)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from resolvers.sessions import (
    SessionsQueryContext,
    SessionsQueryDefinition,
    SessionsQueryError,
    build_definition,
    storage_granularity,
)
from storage.types import AggregateQuery, And, Cond, Or, Quantity

NOW = datetime(2021, 3, 5, 11, 14, 17, tzinfo=UTC)
RELEASES = ["foo@1.0.0", "foo@1.1.0", "foo@2.0.0+7", "bar"]
STAGES = {"foo@1.0.0": "replaced", "foo@1.1.0": "adopted"}


def context(**overrides) -> SessionsQueryContext:
    values = {
        "now": NOW,
        "projects": {1: "p1", 2: "p2", 3: "p3"},
        "environments": {"prod", "dev", ""},
        "releases": RELEASES,
        "release_stages": lambda projects, env: STAGES,
    }
    values.update(overrides)
    return SessionsQueryContext(**values)


def pairs(query: str) -> list[tuple[str, str]]:
    result = []
    for piece in query.split("&"):
        if piece:
            key, _, value = piece.partition("=")
            result.append((key, value))
    return result


BASE = "statsPeriod=1d&interval=1h"


def build(query: str, base: str = BASE, **ctx) -> SessionsQueryDefinition:
    return build_definition(pairs(f"{base}&{query}"), context(**ctx))


def error(query: str, base: str = BASE, **ctx) -> SessionsQueryError:
    with pytest.raises(SessionsQueryError) as info:
        build(query, base, **ctx)
    return info.value


def message(query: str, base: str = BASE, **ctx) -> str:
    return error(query, base, **ctx).message


# -- a plain definition ------------------------------------------------------------------


def test_basic_definition():
    d = build("field=sum(session)&field=crash_free_rate(session)&groupBy=release&project=2")
    assert d.fields == ("sum(session)", "crash_free_rate(session)")
    assert d.active_fields == d.fields
    assert d.group_by == ("release",) and d.dimensions == ("release",)
    assert d.project_ids == (2,)
    assert d.filter is None and d.status_filter is None
    assert d.interval == 3600 and len(d.intervals) == 25
    assert d.order_by is not None and d.order_by.field == "sum(session)"
    assert d.order_by.descending and not d.order_by.explicit
    assert d.limit == 10000 // 25 and d.offset == 0 and d.page_size == 5000
    assert d.include_totals and d.include_series and not d.empty_result
    assert d.query == ""


def test_duplicates_are_removed():
    d = build("field=sum(session)&field=sum(session)&groupBy=release&groupBy=release")
    assert d.fields == ("sum(session)",) and d.group_by == ("release",)


def test_storage_queries():
    d = build(
        "field=sum(session)&field=count_unique(user)&groupBy=environment&groupBy=project"
        "&environment=prod&project=1"
    )
    totals = d.totals_query()
    assert totals == AggregateQuery(
        project_ids=(1,),
        start=d.start,
        end=d.end,
        granularity=3600,
        quantities=frozenset({Quantity.COUNTERS, Quantity.USERS}),
        group_by=("environment", "project_id"),
        filter=Cond("environment", ("prod",)),
        interval=None,
    )
    assert d.series_query().interval == 3600
    assert d.series_query().start == totals.start


def test_storage_granularity():
    assert storage_granularity(86400 * 10, 86400) == 86400
    assert storage_granularity(86400 * 10 + 3600, 86400) == 3600  # never: start is aligned
    assert storage_granularity(3600 * 5, 3600 * 12) == 3600
    assert storage_granularity(86400, 43200) == 3600
    assert storage_granularity(600, 300) == 60
    assert storage_granularity(5400, 5400) == 60  # 90 minutes
    assert storage_granularity(90, 90) == 60
    assert storage_granularity(30, 30) == 60
    d = build("field=sum(session)", base="statsPeriod=7d&interval=1d")
    assert d.granularity == 86400


def test_query_is_kept_raw():
    assert build("field=sum(session)&query=release:foo@1.0.0").query == "release:foo@1.0.0"


# -- filters -----------------------------------------------------------------------------


def test_environment_parameter_and_query_are_anded():
    d = build("field=sum(session)&environment=prod&environment=dev&query=release:bar")
    assert d.filter == And((Cond("environment", ("prod", "dev")), Cond("release", ("bar",))))
    assert d.environments == ("prod", "dev")


def test_query_terms_compile_to_storage_filters():
    d = build('field=sum(session)&query=!release:bar (environment:"" OR project:p2)')
    assert d.filter == And(
        (
            Cond("release", ("bar",), negate=True),
            Or((Cond("environment", ("",)), Cond("project_id", (2,)))),
        )
    )
    d = build("field=sum(session)&query=project_id:[1, 3] !environment:[prod]")
    assert d.filter == And((Cond("project_id", (1, 3)), Cond("environment", ("prod",), negate=True)))


def test_release_filters_compile():
    d = build("field=sum(session)&query=release.version:1.*")
    assert d.filter == Cond("release", ("foo@1.0.0", "foo@1.1.0"))
    d = build("field=sum(session)&query=release.version:9.*")
    assert d.filter == Cond("release", ())
    d = build("field=sum(session)&environment=prod&query=release.stage:adopted")
    assert d.filter == And((Cond("environment", ("prod",)), Cond("release", ("foo@1.1.0",))))


def test_releases_may_be_a_function_of_the_projects():
    seen = []

    def releases(project_ids):
        seen.append(project_ids)
        return ["foo@1.0.0"]

    d = build("field=sum(session)&project=2&query=release.package:foo", releases=releases)
    assert d.filter == Cond("release", ("foo@1.0.0",))
    assert seen == [(2,)]
    build("field=sum(session)&query=release:x", releases=releases)
    assert seen == [(2,)]  # only read for release filters


def test_comparison_on_plain_keys_resolves_against_known_values():
    d = build("field=sum(session)&query=project_id:>1")
    assert d.filter == Cond("project_id", (2, 3))
    d = build("field=sum(session)&query=release:>=foo@1.1.0")
    assert d.filter == Cond("release", ("foo@1.1.0", "foo@2.0.0+7"))


def test_project_slugs():
    d = build("field=sum(session)&query=project:[p1, p3]")
    assert d.filter == Cond("project_id", (1, 3))
    d = build("field=sum(session)&query=!project:p1")
    assert d.filter == Cond("project_id", (1,), negate=True)
    # negation with an unknown slug is no error
    d = build("field=sum(session)&query=!project:zzz")
    assert d.filter == Cond("project_id", (), negate=True)


def test_escaped_asterisk_is_literal():
    d = build(r"field=sum(session)&query=release:a\*b")
    assert d.filter == Cond("release", ("a*b",))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("issue.id:123", "Invalid search filter: issue.id"),
        ("foo:bar", "Invalid search filter: foo"),
        ("hello", "Invalid search filter: message"),
        ("(free text)", "Invalid search filter: message"),
        ("release:foo*", "Invalid condition: wildcard search is not supported"),
        ("environment:*prod", "Invalid condition: wildcard search is not supported"),
        ("project_id:1 OR (release:a*)", "Invalid condition: wildcard search is not supported"),
        ('release:"x*"', "Invalid condition: wildcard search is not supported"),
        ("session.status:cr*", "Invalid condition: wildcard search is not supported"),
        (
            "project:nope",
            "Invalid query. Project(s) nope do not exist or are not actively selected.",
        ),
        (
            "project:[p1, a, b]",
            "Invalid query. Project(s) a and b do not exist or are not actively selected.",
        ),
        (
            "project:[a, b, c]",
            "Invalid query. Project(s) a, b, and c do not exist or are not actively selected.",
        ),
        (
            "release.version:abc",
            'Invalid format of semantic version. For searching non-semver releases, use "release:" instead.',
        ),
        ("release.version:[1.0, 2.0]", "Invalid operation 'IN' for semantic version filter."),
        ("release.build:[1, 2]", "Invalid operation 'IN' for semantic version filter."),
        ("release.stage:adopted", "Choose a single environment to filter by release stage."),
    ],
)
def test_query_errors(query, expected):
    assert message(f"field=sum(session)&query={query}") == expected


def test_project_slug_outside_the_requested_projects():
    assert message("field=sum(session)&project=1&query=project:p2") == (
        "Invalid query. Project(s) p2 do not exist or are not actively selected."
    )


def test_unsupported_stage_value():
    assert message("field=sum(session)&environment=prod&query=release.stage:bogus") == (
        "Unsupported release.stage value."
    )


def test_release_filters_accept_wildcards():
    build("field=sum(session)&query=release.version:1.* release.build:12*")


# -- the status filter (8.10) ------------------------------------------------------------


def status(query: str) -> frozenset[str] | None:
    return build(f"field=sum(session)&query={query}").status_filter


def test_status_filter_forms():
    assert status("session.status:crashed") == {"crashed"}
    assert status("!session.status:healthy") == {"abnormal", "crashed", "errored", "unhandled"}
    assert status("session.status:[healthy, errored]") == {"healthy", "errored"}
    assert status("!session.status:[healthy, errored]") == {"abnormal", "crashed", "unhandled"}
    assert status("session.status:[crashed, bogus]") == {"crashed"}
    assert status("release:bar") is None


def test_several_status_conditions_intersect():
    assert status("session.status:[crashed, abnormal] !session.status:abnormal") == {"crashed"}
    assert status("session.status:[crashed, abnormal] AND release:bar") == {"crashed", "abnormal"}


def test_status_terms_stay_out_of_the_storage_filter():
    d = build("field=sum(session)&query=release:bar session.status:crashed")
    assert d.filter == Cond("release", ("bar",))


@pytest.mark.parametrize(
    "query",
    [
        "session.status:crashed OR release:bar",
        "release:bar OR session.status:crashed",
        "(session.status:crashed)",
        "release:bar (session.status:crashed release:foo)",
        "(release:a OR release:b) session.status:healthy OR release:c",
    ],
)
def test_status_inside_or_or_nested(query):
    assert message(f"field=sum(session)&query={query}") == ("Unable to parse condition with session.status")


@pytest.mark.parametrize("query", ["session.status:>crashed", "session.status:<=healthy"])
def test_status_with_another_operator(query):
    assert message(f"field=sum(session)&query={query}") == "Unable to resolve session.status filter"


@pytest.mark.parametrize(
    "query",
    ["session.status:bogus", "session.status:crashed session.status:healthy"],
)
def test_empty_status_filter_short_circuits(query):
    d = build(f"field=sum(session)&field=crash_rate(session)&query={query}")
    assert d.empty_result and d.status_filter == frozenset()
    assert len(d.intervals) == 25  # start, end and intervals stay


def test_status_filter_field_effects():
    assert message("field=crash_rate(session)&query=session.status:[abnormal,crashed]") == (
        "Cannot filter field crash_rate(session) by session.status"
    )
    assert message("field=count_unique(user)&query=session.status:[abnormal,crashed]") == (
        "Cannot filter count_unique by multiple session.status unless it is in groupBy"
    )
    d = build("field=count_unique(user)&groupBy=session.status&query=session.status:[abnormal,crashed]")
    assert d.statuses == ("abnormal", "crashed")
    d = build("field=count_unique(user)&query=session.status:crashed")
    assert d.active_fields == ("count_unique(user)",)
    d = build("field=p50(session.duration)&field=sum(session)&query=session.status:crashed")
    assert d.active_fields == ("sum(session)",)
    d = build("field=p50(session.duration)&query=session.status:[healthy, crashed]")
    assert d.active_fields == ("p50(session.duration)",)


def test_only_removed_fields_short_circuit():
    d = build("field=avg(session.duration)&field=max(session.duration)&query=session.status:abnormal")
    assert d.empty_result and d.active_fields == ()


def test_status_quantities():
    d = build("field=sum(session)&groupBy=session.status")
    assert d.quantities == {Quantity.COUNTERS, Quantity.ERRORS}
    d = build("field=sum(session)&query=session.status:[crashed,abnormal]")
    assert d.quantities == {Quantity.COUNTERS}
    d = build("field=sum(session)&query=session.status:errored")
    assert d.quantities == {Quantity.COUNTERS, Quantity.ERRORS}
    d = build("field=errored_rate(session)&field=anr_rate()&field=p90(session.duration)")
    assert d.quantities == {
        Quantity.COUNTERS,
        Quantity.ERRORS,
        Quantity.USERS,
        Quantity.USER_STATUSES,
        Quantity.DURATIONS,
    }
    assert build("field=crash_rate(session)").quantities == {Quantity.COUNTERS}
    # A plain user count reads only the users' sketches; by status it needs the statuses'.
    assert build("field=count_unique(user)").quantities == {Quantity.USERS}
    assert build("field=count_unique(user)&groupBy=session.status").quantities == {
        Quantity.USERS,
        Quantity.USER_STATUSES,
    }
    assert build("field=count_unique(user)&query=session.status:crashed").quantities == {
        Quantity.USERS,
        Quantity.USER_STATUSES,
    }


def test_rate_grouped_by_status():
    assert message("field=sum(session)&field=anr_rate()&groupBy=session.status") == (
        "Cannot group field anr_rate() by session.status"
    )


# -- orderBy (8.11, 8.13 step 10) --------------------------------------------------------


def test_order_by_variants():
    d = build("field=crash_free_rate(session)&field=sum(session)&groupBy=release")
    assert d.order_by is not None and d.order_by.field == "sum(session)"
    d = build("field=crash_free_rate(session)&field=count_unique(user)&groupBy=release")
    assert d.order_by is not None and d.order_by.field == "crash_free_rate(session)"
    d = build("field=sum(session)&field=count_unique(user)&orderBy=count_unique(user)")
    assert d.order_by is not None
    assert (d.order_by.field, d.order_by.descending, d.order_by.explicit) == (
        "count_unique(user)",
        False,
        True,
    )
    d = build("field=sum(session)&orderBy=-sum(session)&query=session.status:crashed")
    assert d.order_by is not None and d.order_by.descending and d.order_by.status == "crashed"
    d = build("field=sum(session)&query=session.status:[abnormal,crashed]")
    assert d.order_by is not None and d.order_by.status == "abnormal"
    d = build("field=sum(session)&query=session.status:[crashed,healthy]")
    assert d.order_by is not None and d.order_by.status is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("orderBy=sum(session)&orderBy=-sum(session)", "Cannot order by multiple fields"),
        (
            "orderBy=sum(session)&groupBy=session.status",
            "Cannot use 'orderBy' when grouping by sessions.status",
        ),
        ("orderBy=count_unique(user)", "'orderBy' must be one of the provided 'fields'"),
        ("orderBy=", "'orderBy' must be one of the provided 'fields'"),
        (
            "orderBy=sum(session)&query=session.status:[crashed,abnormal]",
            "Cannot order by sum(session) with the current filters",
        ),
        (
            "orderBy=sum(session)&query=session.status:healthy",
            "Cannot order by sum(session) with the current filters",
        ),
        (
            "orderBy=-sum(session)&query=session.status:errored",
            "Cannot order by sum(session) with the current filters",
        ),
        (
            "field=p50(session.duration)&orderBy=p50(session.duration)&query=session.status:crashed",
            "Cannot order by p50(session.duration) with the current filters",
        ),
    ],
)
def test_order_by_errors(query, expected):
    assert message(f"field=sum(session)&{query}") == expected


def test_count_unique_order_with_healthy_filter():
    assert (
        message("field=count_unique(user)&orderBy=count_unique(user)&query=session.status:healthy")
        == "Cannot order by count_unique(user) with the current filters"
    )
    d = build("field=count_unique(user)&orderBy=count_unique(user)&query=session.status:crashed")
    assert d.order_by is not None and d.order_by.field == "count_unique(user)"


# -- limits and budget (8.12) ------------------------------------------------------------

NINETY_DAYS = "statsPeriod=90d&interval=1d"


def test_default_limit():
    d = build("field=sum(session)&groupBy=release", base=NINETY_DAYS)
    assert len(d.intervals) == 91 and d.limit == 109
    d = build("field=sum(session)&groupBy=release&includeSeries=0", base=NINETY_DAYS)
    assert d.limit == 10000 and not d.include_series and d.include_totals
    d = build("field=sum(session)", base="statsPeriod=90d&interval=1d", budget=50)
    assert d.limit == 1


def test_per_page_fetches_one_more():
    d = build("field=sum(session)&groupBy=release&per_page=2&cursor=0:4:0", base=NINETY_DAYS)
    assert (d.limit, d.offset, d.page_size, d.per_page) == (3, 4, 2, 2)


def test_budget_error_text():
    assert message("field=sum(session)&per_page=110", base=NINETY_DAYS) == (
        "Requested intervals (91) of timedelta of 1 day, 0:00:00 with statsPeriod timedelta of "
        "91 days, 0:00:00 is too granular for a per_page of 111 elements. Increase your "
        "interval, decrease your statsPeriod, or decrease your per_page parameter."
    )
    build("field=sum(session)&per_page=108", base=NINETY_DAYS)
    assert "timedelta of 0:01:30 with statsPeriod timedelta of 1:01:30 " in message(
        "field=sum(session)&per_page=5000", base="statsPeriod=1h&interval=90s"
    )


def test_budget_is_a_setting():
    assert message("field=sum(session)&per_page=4", base="statsPeriod=1d&interval=1h", budget=100)
    build("field=sum(session)&per_page=3", budget=100)


def test_series_omitted_skips_the_budget_check():
    d = build("field=sum(session)&per_page=5000&includeSeries=0", base=NINETY_DAYS)
    assert d.limit == 5001


def test_include_flags():
    d = build("field=sum(session)&includeTotals=0")
    assert not d.include_totals and d.include_series
    d = build("field=sum(session)&includeTotals=false&includeSeries=")
    assert d.include_totals and d.include_series
    assert message("field=sum(session)&includeTotals=0&includeSeries=0") == (
        "Cannot omit both series and totals"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "Invalid per_page parameter."),
        ("1.5", "Invalid per_page parameter."),
        ("0", "Invalid per_page parameter."),
        ("-3", "Invalid per_page parameter."),
        ("5001", "Invalid per_page value. Cannot exceed 5000."),
    ],
)
def test_per_page_errors(value, expected):
    assert message(f"field=sum(session)&per_page={value}") == expected


@pytest.mark.parametrize("cursor", ["bogus", "0:1", "0:a:0", "0:1:0:0", "0:-1:0", ""])
def test_cursor_errors(cursor):
    assert message(f"field=sum(session)&cursor={cursor}") == "Invalid cursor parameter."


# -- field and groupBy errors ------------------------------------------------------------


def test_field_and_group_by_errors():
    assert message("groupBy=release") == 'Request is missing a "field"'
    assert message("field=sum(session)&field=bogus&field=other") == 'Invalid field: "bogus"'
    assert message("field=Sum(session)") == 'Invalid field: "Sum(session)"'
    assert message("field=sum(session)&groupBy=release&groupBy=user") == 'Invalid groupBy: "user"'


# -- evaluation order (8.13): each step wins over every later one ------------------------


ORDER_CASES = [
    # 2: per_page, then cursor
    ("per_page=abc&cursor=bad", "Invalid per_page parameter."),
    ("per_page=6000&cursor=bad", "Invalid per_page value. Cannot exceed 5000."),
    # 2 before 3.1
    ("cursor=bad&statsPeriod=bad", "Invalid cursor parameter."),
    # 3.1 dates before 3.2 projects
    ("statsPeriod=bad&project=abc", "Invalid date range: Invalid statsPeriod: 'bad'"),
    # 3.2 before 3.3, and non-integers before 403
    ("project=abc&project=9&environment=nope", "Invalid project parameter. Values must be numbers."),
    ("project=9&environment=nope", "You do not have permission to perform this action."),
    # 3.3 before 4
    ("environment=nope", "The requested resource does not exist"),
    # 4: field, then groupBy, then interval, then range
    ("field=&groupBy=bogus", 'Invalid field: ""'),
    ("groupBy=bogus&interval=7s", 'Invalid groupBy: "bogus"'),
    ("interval=2d&statsPeriod=90d", "The interval has to be less than one day."),
    (
        "interval=1m&statsPeriod=90d&query=foo:bar",
        "Your interval and date range would create "
        "too many results. Use a larger interval, or a smaller date range.",
    ),
    # 4 before 5
    (
        "interval=15s&query=foo:bar",
        "The interval has to be a multiple of the minimum interval of ten seconds.",
    ),
    # 5: in the order the terms appear
    ("query=foo:bar issue.id:1", "Invalid search filter: foo"),
    ("query=release:a* foo:bar", "Invalid condition: wildcard search is not supported"),
    (
        "query=project:nope release.version:bad",
        "Invalid query. Project(s) nope do not exist or are not actively selected.",
    ),
    (
        "query=release.version:bad project:nope",
        'Invalid format of semantic version. For searching non-semver releases, use "release:" instead.',
    ),
    ("query=(release:a OR bad:x) release.stage:adopted", "Invalid search filter: bad"),
    # 5 before 6
    ("query=(session.status:crashed OR release:a) foo:bar", "Invalid search filter: foo"),
    (
        "query=session.status:>crashed release.build:[1,2]",
        "Invalid operation 'IN' for semantic version filter.",
    ),
    # 6: first offending top-level item
    ("query=session.status:>crashed (session.status:healthy)", "Unable to resolve session.status filter"),
    (
        "query=(session.status:healthy) session.status:>crashed",
        "Unable to parse condition with session.status",
    ),
    # 6 before 7
    (
        "query=session.status:bogus (session.status:crashed OR release:a)",
        "Unable to parse condition with session.status",
    ),
    # 8: first offending field in request order; group before filter for one field
    (
        "field=count_unique(user)&field=crash_rate(session)&query=session.status:[crashed,abnormal]",
        "Cannot filter count_unique by multiple session.status unless it is in groupBy",
    ),
    (
        "field=crash_rate(user)&field=count_unique(user)&query=session.status:[crashed,abnormal]",
        "Cannot filter field crash_rate(user) by session.status",
    ),
    (
        "field=crash_rate(session)&groupBy=session.status&query=session.status:crashed",
        "Cannot group field crash_rate(session) by session.status",
    ),
    # 8 before 9 (the duration field would be removed)
    (
        "field=p50(session.duration)&field=crash_rate(session)&query=session.status:crashed",
        "Cannot filter field crash_rate(session) by session.status",
    ),
    # 10: multiple, then status groupBy, then not a field, then filters
    ("orderBy=x&orderBy=y&groupBy=session.status", "Cannot order by multiple fields"),
    ("orderBy=x&groupBy=session.status", "Cannot use 'orderBy' when grouping by sessions.status"),
    ("orderBy=x&query=session.status:healthy", "'orderBy' must be one of the provided 'fields'"),
    # 10 before 11
    ("orderBy=x&includeTotals=0&includeSeries=0", "'orderBy' must be one of the provided 'fields'"),
    # 11 before 12
    ("includeTotals=0&includeSeries=0&per_page=5000", "Cannot omit both series and totals"),
]


@pytest.mark.parametrize(("query", "expected"), ORDER_CASES)
def test_evaluation_order(query, expected):
    base = "statsPeriod=1d&interval=1h"
    if "field=" not in query:
        query = f"field=sum(session)&{query}"
    assert message(query, base=base) == expected


def test_missing_field_before_group_by():
    assert message("groupBy=bogus") == 'Request is missing a "field"'


def test_three_point_two_before_no_projects_and_dates_first():
    assert message("statsPeriod=x&project=abc", projects={}) == (
        "Invalid date range: Invalid statsPeriod: 'x'"
    )
    assert message("project=abc", projects={}) == ("Invalid project parameter. Values must be numbers.")
    assert message("field=sum(session)", projects={}) == "No projects available"


def test_status_codes():
    assert error("field=sum(session)&project=9").status == 403
    assert error("field=sum(session)&environment=nope").status == 404
    assert error("field=bogus").status == 400


def test_short_circuits_win_over_later_errors():
    # 7 before 8: an empty status filter with a rate field is no error
    d = build(
        "field=crash_rate(session)&query=session.status:bogus&orderBy=x&includeTotals=0&includeSeries=0"
    )
    assert d.empty_result
    # 9 before 10, 11, 12
    d = build(
        "field=p90(session.duration)&query=session.status:crashed&orderBy=x&orderBy=y"
        "&includeTotals=0&includeSeries=0&per_page=5000"
    )
    assert d.empty_result
