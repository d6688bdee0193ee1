"""`DateTime` is an RFC 3339 date-time with an offset, strictly: dates, date-times without
an offset, other ISO 8601 forms and unix seconds are BAD_USER_INPUT with a message saying
what to send, as variables and as literals. Offsets are honoured, output is always UTC
with `Z`, and the schema documents it (description, `@specifiedBy`). The REST endpoint's
Sentry-compatible `start`/`end`/`now` keep accepting what Sentry accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gql.core.scalars import SPEC_URL, serialize_datetime
from gql.v1.schema import build_v1_schema as build_schema
from storage.types import SessionIncrement
from tests.backend_support import WEB, backend

NOW = datetime(2025, 6, 2, 10, 0, 30, tzinfo=UTC).timestamp()
QUERY = 'query($t: DateTime) { project(id: "1") { sessionsCount(start: "2025-06-02T00:00:00Z", end: "2025-06-03T00:00:00Z", now: $t) } }'
HINT = "e.g. 2025-06-02T10:00:00Z or 2025-06-02T12:00:00+02:00"

REFUSED = [
    # (value, what the message says about it)
    ("2025-06-02T10:00:30", "has no UTC offset: add Z (UTC) or +HH:MM"),
    ("2025-06-02T10:00", "has no UTC offset"),
    ("2025-06-02 10:00:30", "has no UTC offset"),
    ("2025-06-02", "is a date: add a time and an offset"),
    ("2025-06-02 10:00:30Z", "is not an RFC 3339 date-time with an offset"),  # space, not T
    ("20250602T100030Z", "is not an RFC 3339 date-time with an offset"),  # ISO 8601 basic format
    ("2025-06-02T10:00:30+0200", "is not an RFC 3339 date-time with an offset"),  # offset without colon
    ("2025-06-02T10:00:30+24:00", "is not an RFC 3339 date-time with an offset"),
    ("2025-W23-1T10:00:00Z", "is not an RFC 3339 date-time with an offset"),
    ("1748858430", "is not an RFC 3339 date-time with an offset"),  # unix seconds as a string
    ("２０２５-06-02T10:00:30Z", "is not an RFC 3339 date-time with an offset"),  # non-ASCII digits
    ("", "is not an RFC 3339 date-time with an offset"),
    ("2025-02-30T10:00:00Z", "is not a valid date-time: day is out of range for month"),
    ("2025-06-02T24:00:00Z", "is not a valid date-time: hour must be in 0..23"),
    ("2025-06-02T10:00:60Z", "is not a valid date-time: second must be in 0..59"),
    (1748858430, "DateTime must be a string"),  # unix seconds
    (1748858430.5, "DateTime must be a string"),
    (-1, "DateTime must be a string"),
    (10**400, "DateTime must be a string"),
    (True, "DateTime must be a string"),
]


@pytest.fixture
async def api(make_app, sqlite_url):
    b = await backend(make_app, sqlite_url, clock="2025-06-02T10:00:30Z")
    await b.write(
        SessionIncrement(WEB, "web@1", "production", NOW - 3 * 3600, started_count=2),
        SessionIncrement(WEB, "web@1", "production", NOW - 1800, started_count=5),
    )
    return b


def _refused(body, says):
    assert "data" not in body or body["data"] is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert says in error["message"], body
    return error["message"]


@pytest.mark.parametrize(("value", "says"), REFUSED)
async def test_a_variable_that_is_not_rfc3339_with_an_offset_is_bad_user_input(api, value, says):
    message = _refused(await api.gql(QUERY, t=value), says)
    assert "Unexpected error" not in message
    if isinstance(value, str) and "valid date-time" not in says:
        assert HINT in message  # the message shows what to send


@pytest.mark.parametrize(("value", "says"), [(v, s) for v, s in REFUSED if isinstance(v, str) and v])
async def test_a_literal_that_is_not_rfc3339_with_an_offset_is_bad_user_input(api, value, says):
    query = QUERY.replace("query($t: DateTime) ", "").replace("$t", '"%s"' % value)
    _refused(await api.gql(query), says)


async def test_number_literals_are_bad_user_input(api):
    for literal in ("1748858430", "1748858430.5"):
        _refused(
            await api.gql(QUERY.replace("query($t: DateTime) ", "").replace("$t", literal)),
            "must be a string",
        )


async def test_offsets_are_honoured_and_equal_instants_answer_the_same(api):
    # Sessions started at 07:00:30Z (2) and 09:30:30Z (5); `start` is widened down to its
    # hour, so a start at 08:00Z counts 5 and one before 07:00Z counts 7.
    q = 'query($t: DateTime!) { project(id: "1") { sessionsCount(start: $t, end: "2025-06-03T00:00:00Z") } }'
    answers = {}
    for start in (
        "2025-06-02T08:00:00Z",
        "2025-06-02T10:00:00+02:00",  # the same instant
        "2025-06-02T02:30:00-05:30",  # the same instant
        "2025-06-02t08:00:00z",  # RFC 3339's case-insensitive T and Z
        "2025-06-02T08:00:00.000-00:00",
        "2025-06-02T06:59:59.5Z",
        "2025-06-02T07:59:59.5+01:00",
    ):
        body = await api.gql(q, t=start)
        assert "errors" not in body, body
        answers[start] = body["data"]["project"]["sessionsCount"]
    assert answers == {
        "2025-06-02T08:00:00Z": 5,
        "2025-06-02T10:00:00+02:00": 5,
        "2025-06-02T02:30:00-05:30": 5,
        "2025-06-02t08:00:00z": 5,
        "2025-06-02T08:00:00.000-00:00": 5,
        "2025-06-02T06:59:59.5Z": 7,
        "2025-06-02T07:59:59.5+01:00": 7,
    }


async def test_output_is_utc_with_z(api):
    q = """query($t: DateTime) { release(projectId: "1", version: "web@1") {
      sessionTimeBounds(now: $t) { sessionsLowerBound sessionsUpperBound } } }"""
    body = await api.gql(q, t="2025-06-02T12:00:30+02:00")
    assert "errors" not in body, body
    # the hours of the first and the last session (07:00:30Z and 09:30:30Z), in UTC
    assert body["data"]["release"]["sessionTimeBounds"] == {
        "sessionsLowerBound": "2025-06-02T07:00:00Z",
        "sessionsUpperBound": "2025-06-02T09:00:00Z",
    }


def test_serialization_always_emits_z():
    assert serialize_datetime(datetime(2025, 6, 2, 12, 0, 30, tzinfo=UTC)) == "2025-06-02T12:00:30Z"
    tz = datetime(2025, 6, 2, 12, 0, 30, 250000).astimezone()  # any zone: the host's
    assert serialize_datetime(tz).endswith("Z")
    # a naive value from the server's own arithmetic is UTC, never the host's local time
    assert serialize_datetime(datetime(2025, 6, 2, 12, 0, 30, 5)) == "2025-06-02T12:00:30.000005Z"


def test_the_schema_documents_the_format():
    scalar = build_schema()._schema.type_map["DateTime"]
    assert scalar.specified_by_url == SPEC_URL == "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
    for words in ("RFC 3339", "offset", "unix seconds are refused", "`Z` on output"):
        assert words in (scalar.description or ""), scalar.description


async def test_rest_keeps_sentrys_date_forms(api):
    """The REST endpoint is Sentry's: naive date-times, dates and unix seconds stay valid."""
    for params in (
        "start=2025-06-02T00:00:00&end=2025-06-03T00:00:00",
        "start=2025-06-02&end=2025-06-03",
        "start=1748822400&end=1748908800",
    ):
        r = await api.app.client.get(
            f"/api/0/organizations/acme/sessions/?field=sum(session)&interval=1d&{params}",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert r.status_code == 200, (params, r.text)
        assert r.json()["groups"][0]["totals"] == {"sum(session)": 7}, params
