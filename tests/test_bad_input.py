"""Bad input gets a clear error, never a 500 nor a masked `Unexpected error`: ids out of
range, dates outside what the store can hold, filters too deep or too long."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from server.clock import FixedClock
from server.settings import Settings
from storage.types import SessionIncrement, WriteBatch

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
URL = "/api/0/organizations/acme/sessions/"
HUGE = "9223372036854775808"  # 2^63: past SQLite's INTEGER
ABOVE_INT4 = "2147483648"  # 2^31: past PostgreSQL's integer ids


async def _app(make_app, url):
    app = await make_app(Settings(database_url=url), FixedClock(NOW))
    acc = app.services.accounts
    await acc.create_project("acme", "web", 1)
    token = await acc.create_token("acme", ["org:read"])
    await app.services.store.apply(
        [
            WriteBatch(
                [
                    SessionIncrement(1, "web@1", "production", NOW - 3600, started_count=2),
                ]
            )
        ]
    )
    return app, token


@pytest.fixture
async def app_token(make_app, sqlite_url):
    return await _app(make_app, sqlite_url)


@pytest.fixture
def gql(app_token):
    app, token = app_token

    async def run(query, **variables):
        r = await app.client.post(
            "/graphql/v1",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        return r.json()

    return run


@pytest.fixture
def rest(app_token):
    app, token = app_token

    async def get(query):
        return await app.client.get(f"{URL}?{query}", headers={"Authorization": f"Bearer {token}"})

    return get


def _assert_bad_user_input(body, contains=""):
    assert body.get("errors"), body
    for error in body["errors"]:
        assert error["message"] != "Unexpected error.", body
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert contains in body["errors"][0]["message"], body


# -- ids -------------------------------------------------------------------------------

ID_QUERIES = [
    "query($id: ID!) { project(id: $id) { slug } }",
    'query($id: ID!) { release(projectId: $id, version: "v") { version } }',
    "query($id: ID!) { releases(projectIds: [$id]) { totalCount } }",
    "query($id: ID!) { hasHealthData(projectIds: [$id]) { projectIds } }",
    'query($id: ID!) { hasHealthData(releases: [{projectId: $id, version: "v"}]) { projectIds } }',
    'query($id: ID!) { oldestHealthData(releases: [{projectId: $id, version: "v"}]) { oldest } }',
    "query($id: ID!) { changedReleaseAdoptions(projectIds: [$id]) { version } }",
    'query($id: ID!) { releasesHaveHealthData(projectIds: [$id], releases: ["v"], '
    'start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z") }',
    'query($id: ID!) { sessionsPerProject(projectIds: [$id], start: "2025-06-01T00:00:00Z", '
    'end: "2025-06-02T00:00:00Z") { sessions } }',
    'query($id: ID!) { sessionsPerProject(projectIds: ["1"], environmentIds: [$id], '
    'start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z") { sessions } }',
    'query($id: ID!) { project(id: "1") { sessionsCount(environmentId: $id, '
    'start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z") } }',
    'query($id: ID!) { sessions(organization: "acme", query: {fields: ["sum(session)"], '
    "projects: [$id]}) { query } }",
    "query($id: _Any!) { _entities(representations: [$id]) { ... on Project { slug } } }",
    "query($id: _Any!) { _entities(representations: [$id]) { ... on Release { version "
    "health { totalSessions } } } }",
]


@pytest.mark.parametrize("value", [HUGE, ABOVE_INT4])
@pytest.mark.parametrize("query", ID_QUERIES)
async def test_ids_out_of_range_are_bad_user_input(make_app, database_url, query, value):
    app, token = await _app(make_app, database_url)
    variable: object = value
    if "Project { slug" in query:
        variable = {"__typename": "Project", "id": value}
    elif "_entities" in query:
        variable = {"__typename": "Release", "projectId": value, "version": "v"}
    r = await app.client.post(
        "/graphql/v1",
        json={"query": query, "variables": {"id": variable}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = r.json()
    if "projects:" in query:  # the sessions query reports the REST parameter's error
        _assert_bad_user_input(body, "Invalid project parameter")
    else:
        _assert_bad_user_input(body, "id")


@pytest.mark.parametrize("value", [HUGE, ABOVE_INT4, "-2147483649", "-9223372036854775809"])
async def test_rest_project_out_of_range_is_400(rest, value):
    r = await rest(f"project={value}&field=sum(session)&statsPeriod=1d")
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("Invalid project parameter"), r.text


async def test_release_entities_resolve_by_their_key(gql):
    q = (
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Release { version "
        'health(now: "2025-06-02T10:00:30Z") { totalSessions } } ... on Project { slug } } }'
    )
    body = await gql(
        q,
        r=[
            {"__typename": "Release", "projectId": "1", "version": "web@1"},
            {"__typename": "Project", "id": 1},
        ],
    )
    assert "errors" not in body, body
    assert body["data"] == {
        "_entities": [{"version": "web@1", "health": {"totalSessions": 2}}, {"slug": "web"}]
    }


@pytest.mark.parametrize(
    "representation",
    [
        "Project",
        5,
        [],
        {},
        {"__typename": "Nope", "id": "1"},
        {"__typename": "Project"},
        {"__typename": "Project", "id": "1", "extra": 1},
        {"__typename": "Release", "projectId": "1"},
        {"__typename": "Release", "projectId": "x", "version": "v"},
        {"__typename": "Release", "projectId": "1", "version": {"a": 1}},
    ],
)
async def test_malformed_entity_representations_are_bad_user_input(gql, representation):
    q = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Project { slug } } }"
    _assert_bad_user_input(await gql(q, r=[representation]))


# -- dates -------------------------------------------------------------------------------

DATE_QUERIES = [
    'query($t: DateTime) { releases(projectIds: ["1"], now: $t) { totalCount } }',
    'query($t: DateTime) { release(projectId: "1", version: "web@1") { health(now: $t) { totalSessions } } }',
    'query($t: DateTime) { release(projectId: "1", version: "web@1") { adoption(now: $t) { adoption } } }',
    'query($t: DateTime) { release(projectId: "1", version: "web@1") { adoptionStage(environment: "production", now: $t) { stage } } }',
    'query($t: DateTime) { release(projectId: "1", version: "web@1") { sessionTimeBounds(now: $t) { sessionsLowerBound } } }',
    'query($t: DateTime!) { release(projectId: "1", version: "web@1") { crashFreeBreakdown(start: $t) { crashFreeUsers } } }',
    'query($t: DateTime) { release(projectId: "1", version: "web@1") { crashFreeBreakdown(start: "2025-06-01T00:00:00Z", now: $t) { crashFreeUsers } } }',
    'query($t: DateTime!) { release(projectId: "1", version: "web@1") { stats(stat: SESSIONS, interval: "1d", start: $t, end: "2025-06-02T00:00:00Z") { totals { total } } } }',
    'query($t: DateTime!) { release(projectId: "1", version: "web@1") { stats(stat: SESSIONS, interval: "1d", start: "2025-06-01T00:00:00Z", end: $t) { totals { total } } } }',
    'query($t: DateTime) { hasHealthData(projectIds: ["1"], now: $t) { projectIds } }',
    'query($t: DateTime) { oldestHealthData(releases: [{projectId: "1", version: "web@1"}], now: $t) { oldest } }',
    'query($t: DateTime) { changedReleaseAdoptions(projectIds: ["1"], now: $t) { version } }',
    'query($t: DateTime!) { releasesHaveHealthData(projectIds: ["1"], releases: ["web@1"], start: $t, end: "2025-06-02T00:00:00Z") }',
    'query($t: DateTime!) { releasesHaveHealthData(projectIds: ["1"], releases: ["web@1"], start: "2025-06-01T00:00:00Z", end: $t) }',
    'query($t: DateTime!) { sessionsPerProject(projectIds: ["1"], start: $t, end: "2025-06-02T00:00:00Z") { sessions } }',
    'query($t: DateTime!) { sessionsPerProject(projectIds: ["1"], start: "2025-06-01T00:00:00Z", end: $t) { sessions } }',
    'query($t: DateTime) { sessionsPerProject(projectIds: ["1"], start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z", now: $t) { sessions } }',
    'query($t: DateTime!) { project(id: "1") { sessionsCount(start: $t, end: "2025-06-02T00:00:00Z") } }',
    'query($t: DateTime) { project(id: "1") { sessionsCount(start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z", now: $t) } }',
    'query($t: DateTime) { project(id: "1") { releasesCount(now: $t) } }',
    'query($t: DateTime) { project(id: "1") { releases(now: $t) { totalCount } } }',
    'query($t: DateTime) { project(id: "1") { ingestOutcomes(start: $t) { count } } }',
    'query($t: DateTime!) { project(id: "1") { crashFreeRates(current: {start: $t, end: "2025-06-02T00:00:00Z"}, previous: {start: "2025-05-01T00:00:00Z", end: "2025-05-02T00:00:00Z"}) { current } } }',
    'query($t: DateTime) { project(id: "1") { crashFreeRates(current: {start: "2025-06-01T00:00:00Z", end: "2025-06-02T00:00:00Z"}, previous: {start: "2025-05-01T00:00:00Z", end: "2025-05-02T00:00:00Z"}, now: $t) { current } } }',
    'query($t: DateTime) { sessions(organization: "acme", query: {fields: ["sum(session)"], now: $t}) { query } }',
    'query($t: DateTime) { sessions(organization: "acme", query: {fields: ["sum(session)"], start: $t, end: "2025-06-02T00:00:00Z"}) { query } }',
]
# RFC 3339 date-times outside the supported dates (forms DateTime refuses whatever their
# value, such as unix seconds, are tests/test_graphql_datetime.py's).
OUT_OF_RANGE_DATES = [
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:59:59+01:00",
    "9999-01-01T00:00:00+00:00",
    "9998-12-31T23:59:59-00:01",
    "0001-01-01T00:00:00+14:00",
]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
@pytest.mark.parametrize("query", DATE_QUERIES)
async def test_dates_out_of_range_are_bad_user_input(gql, query, value):
    _assert_bad_user_input(await gql(query, t=value), "DateTime")
    # the limits themselves are accepted: a question may still be invalid at them (start
    # after end, too many buckets, beyond retention), but never an unexpected error
    limit = "1970-01-01T00:00:00Z" if value.startswith("0001") else "9998-12-31T23:59:59Z"
    body = await gql(query, t=limit)
    for error in body.get("errors", []):
        assert error["message"] != "Unexpected error.", body
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        assert "DateTime" not in error["message"], body


@pytest.mark.parametrize("value", OUT_OF_RANGE_DATES)
async def test_every_form_of_an_out_of_range_date_is_bad_user_input(gql, value):
    body = await gql(DATE_QUERIES[0], t=value)
    _assert_bad_user_input(body, "outside the supported dates")
    assert "1970-01-01T00:00:00Z to 9998-12-31T23:59:59Z" in body["errors"][0]["message"]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59Z", "0001-01-01", "nope", "1e999"])
async def test_date_literals_out_of_range_are_bad_user_input(gql, value):
    q = '{ releases(projectIds: ["1"], now: "%s") { totalCount } }' % value
    _assert_bad_user_input(await gql(q), "DateTime")


# -- REST ----------------------------------------------------------------------------------

REST_BAD = [
    "now=9999-12-31T23:59:59Z",
    "now=0001-01-01",
    "now=0001-01-01T00:00:00%2B14:00",
    "now=-1",
    "now=1e300",
    "now=253402300800",
    "start=0001-01-01T00:00:00Z&end=2025-06-02T00:00:00Z",
    "start=2025-06-01T00:00:00Z&end=9999-12-31T23:59:59Z",
    "start=1969-12-31T00:00:00Z&end=1970-01-02T00:00:00Z&interval=1d",
    "statsPeriod=99999999999999999999d",
    "statsPeriod=2932896d",
    "statsPeriodStart=999999999d&statsPeriodEnd=1d",
    "statsPeriod=800000d&interval=1d",
]


async def test_rest_dates_and_periods_out_of_range_are_400(rest):
    for params in REST_BAD:
        r = await rest(f"field=sum(session)&{params}")
        assert r.status_code == 400, (params, r.text)
        detail = r.json()["detail"]
        assert detail.startswith("Invalid date range: ") or "interval" in detail, detail
        if any(year in params for year in ("0001-", "1969-", "9999-", "now=-1")):
            assert "outside the supported dates (1970-01-01T00:00:00Z to 9998" in detail, detail
    for now in ("1970-01-01T00:00:00Z", "9998-12-31T23:59:59Z"):  # the limits themselves
        r = await rest(f"field=sum(session)&statsPeriod=1d&interval=1d&now={now}")
        assert r.status_code in (200, 400), r.text
        assert r.status_code == 200 or set(r.json()) == {"detail"}


# -- the search filter ---------------------------------------------------------------------

FILTER_BAD = [
    ("(" * 3000 + "release:web@1" + ")" * 3000, "nested deeper than"),
    ("(" * 3000, "nested deeper than"),
    ("(" * 21 + "release:web@1" + ")" * 21, "nested deeper than"),
    (" OR ".join(["release:web@1"] * 3000), "Invalid query: "),
    (" OR ".join(["a"] * 2000), "conditions"),
    (" OR ".join(["environment:production"] * 101), "conditions"),
    ("release:[" + ",".join(["web@1"] * 1001) + "]", "values"),
    ("release:" + "x" * 10_001, "characters"),
]


@pytest.mark.parametrize(("query", "message"), FILTER_BAD, ids=lambda v: str(v)[:20])
async def test_rest_filters_too_deep_or_too_long_are_400(rest, query, message):
    r = await rest("field=sum(session)&statsPeriod=1d&" + urlencode({"query": query}))
    assert r.status_code == 400, r.text[:300]
    assert message in r.json()["detail"], r.json()["detail"]
    # while a filter at every limit is answered
    at_limits = [
        "(" * 20 + "release:web@1" + ")" * 20,
        " OR ".join(["release:web@1"] * 50 + ["environment:production"] * 50),
        "release:[" + ",".join(["web@1"] * 1000) + "]",
    ]
    for limit in at_limits:
        r = await rest("field=sum(session)&statsPeriod=1d&" + urlencode({"query": limit}))
        assert r.status_code == 200, r.text[:300]
        assert r.json()["groups"][0]["totals"] == {"sum(session)": 2}


@pytest.mark.parametrize(("query", "message"), FILTER_BAD[:4], ids=lambda v: str(v)[:20])
async def test_graphql_filters_too_deep_or_too_long_are_bad_user_input(gql, query, message):
    q = 'query($q: String) { sessions(organization: "acme", query: {fields: ["sum(session)"], statsPeriod: "1d", query: $q}) { query } }'
    _assert_bad_user_input(await gql(q, q=query), message)


def test_the_parser_stops_at_its_limits_without_recursing():
    from resolvers.sessions import filter_parser as fp
    from resolvers.sessions.errors import SessionsQueryError

    assert len(fp.parse_query("(" * fp.MAX_DEPTH + "a" + ")" * fp.MAX_DEPTH)) == 1
    for query, message in [
        ("(" * (fp.MAX_DEPTH + 1) + "a" + ")" * (fp.MAX_DEPTH + 1), fp.QUERY_TOO_DEEP),
        ("(" * fp.MAX_QUERY_LENGTH, fp.QUERY_TOO_DEEP),
        ("(" * 1_000_000, fp.QUERY_TOO_LONG),
        ("a " * (fp.MAX_CONDITIONS + 1), fp.TOO_MANY_CONDITIONS),
        ("release:[" + ",".join("v" * (fp.MAX_VALUES + 1)) + "]", fp.TOO_MANY_VALUES),
    ]:
        with pytest.raises(SessionsQueryError) as raised:
            fp.parse_query(query)
        assert raised.value.message == message
    # an unclosed group still reports the opening parenthesis, as upstream
    with pytest.raises(SessionsQueryError, match="column 1"):
        fp.parse_query("(a")


# -- logging -----------------------------------------------------------------------------


async def test_user_errors_are_logged_as_one_line_without_traceback(gql, rest, caplog):
    caplog.set_level(logging.INFO)
    await gql('{ project(id: "%s") { slug } }' % HUGE)
    await gql('{ releases(projectIds: ["1"], now: "9999-12-31T23:59:59Z") { totalCount } }')
    await gql("{ nope }")
    r = await rest("field=nope&statsPeriod=1d")
    assert r.status_code == 400
    records = [r for r in caplog.records if r.name.startswith(("relhealth", "server", "strawberry"))]
    assert len(records) == 4, [r.getMessage() for r in records]
    for record in records:
        assert record.levelno == logging.WARNING
        assert record.exc_info is None or record.exc_info == (None, None, None)
        assert "\n" not in record.getMessage()
    assert "BAD_USER_INPUT" in records[0].getMessage() and "Invalid project id" in records[0].getMessage()
    assert 'Invalid field: "nope"' in records[3].getMessage()
    assert "Traceback" not in caplog.text


# -- GraphQL documents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ ...F }", "Unknown fragment 'F'."),
        (
            "{ ...F0 } "
            + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(1200))
            + " fragment F1200 on Query { __typename }",
            "The document's fragments are nested too deeply",
        ),
        ("{ " + "__typename " * 20_000 + "}", "Document contains more than 10000 tokens"),
    ],
    ids=["unknown-fragment", "fragment-chain", "tokens"],
)
async def test_documents_the_limits_cannot_follow_get_clear_errors(gql, caplog, document, message):
    body = await gql(document)
    assert body["data"] is None
    assert message in body["errors"][0]["message"], body
    assert "recursion" not in str(body) and "Traceback" not in caplog.text


async def test_json_nested_past_the_decoder_is_400(app_token):
    app, token = app_token
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"query": "{ __typename }", "variables": {"v": ' + deep + "}}"
    r = await app.client.post(
        "/graphql/v1",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "Unable to parse request body as JSON" in r.text


async def test_lists_in_variables_are_bounded(make_app, database_url):
    """PostgreSQL takes at most 32767 parameters a statement: long lists are refused
    before they reach it, and a list at the limit is answered."""
    app, token = await _app(make_app, database_url)
    q = "query($v: [ID!]!) { hasHealthData(releases: [], projectIds: $v) { projectIds } }"
    q_pairs = "query($v: [ProjectReleaseInput!]!) { oldestHealthData(releases: $v) { oldest } }"
    headers = {"Authorization": f"Bearer {token}"}
    for query, item in ((q, lambda i: "1"), (q_pairs, lambda i: {"projectId": "1", "version": f"v{i}"})):
        r = await app.client.post(
            "/graphql/v1",
            json={"query": query, "variables": {"v": [item(i) for i in range(5_000)]}},
            headers=headers,
        )
        _assert_bad_user_input(r.json(), "more than 1000 items")
        r = await app.client.post(
            "/graphql/v1",
            json={"query": query, "variables": {"v": [item(i) for i in range(1000)]}},
            headers=headers,
        )
        assert "errors" not in r.json(), r.text[:300]
