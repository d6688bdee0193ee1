"""Where the public key comes from, and every authentication answer of `ingest.md` 2.2."""

from __future__ import annotations

import base64

import pytest

from ingest.credentials import (
    Credentials,
    body_dsn_credentials,
    dsn_credentials,
    parse_dsn,
    request_credentials,
)
from ingest.errors import IngestError

KEY = "e12d836b15bb49d7bbf99e64295d995b"
OTHER = "00112233445566778899aabbccddeeff"
DSN = f"http://{KEY}@127.0.0.1:9000/42"
AUTH = f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.68.0"


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(user.encode()).decode()


def failure(call: object, *args: object) -> tuple[int, str, list[str] | None]:
    with pytest.raises(IngestError) as error:
        call(*args)  # type: ignore[operator]
    return error.value.status, error.value.detail, error.value.causes


# -- request sources -------------------------------------------------------------------


def test_x_sentry_auth() -> None:
    creds = request_credentials({"x-sentry-auth": AUTH})
    assert creds == Credentials(KEY, "x-sentry-auth", 7, "sentry.python/2.68.0")


@pytest.mark.parametrize(
    "value",
    [
        f"sentry sentry_key={KEY}",
        f"SENTRY sentry_version=7,sentry_key={KEY}",
        f"Sentry  sentry_key = {KEY} , sentry_version=7.0",
        f"Sentry sentry_key={KEY}, junk, sentry_secret=s",
    ],
)
def test_sentry_header_spellings(value: str) -> None:
    creds = request_credentials({"x-sentry-auth": value})
    assert creds is not None and creds.public_key == KEY and creds.version == 7


def test_authorization_sentry_and_basic() -> None:
    assert request_credentials({"authorization": AUTH}) == Credentials(
        KEY, "authorization", 7, "sentry.python/2.68.0"
    )
    assert request_credentials({"authorization": basic(f"{KEY}:")}) == Credentials(KEY, "basic")
    assert request_credentials({"authorization": basic(f"{KEY}:secret:x")}) == Credentials(KEY, "basic")


@pytest.mark.parametrize(
    "authorization", ["Basic !!!not-base64", basic(KEY), basic(f":{KEY}"), "Bearer abc", "Basic"]
)
def test_unusable_authorization_is_no_credential(authorization: str) -> None:
    assert request_credentials({"authorization": authorization}) is None


def test_query_string_raw_and_as_pairs() -> None:
    raw = f"sentry_key={KEY}&sentry_version=7&sentry_client=sentry.javascript.browser%2F8.9.0"
    creds = request_credentials({}, raw)
    assert creds == Credentials(KEY, "query", 7, "sentry.javascript.browser/8.9.0")
    pairs = [("sentry_key", KEY), ("sentry_client", "x/1")]
    assert request_credentials({}, pairs) == Credentials(KEY, "query", 7, "x/1")
    assert request_credentials({}, "foo=bar") is None
    assert request_credentials({"x-sentry-auth": "Bearer token"}, "") is None


def test_key_flags_are_stripped() -> None:
    creds = request_credentials({"x-sentry-auth": f"Sentry sentry_key={KEY}.no-cache"})
    assert creds is not None and creds.public_key == KEY


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"x-sentry-auth": AUTH}, f"sentry_key={KEY}&sentry_version=7"),  # M19
        ({"x-sentry-auth": AUTH, "authorization": AUTH}, ""),
        ({"x-sentry-auth": AUTH, "authorization": basic(f"{KEY}:")}, ""),
        ({"authorization": basic(f"{KEY}:")}, f"sentry_key={KEY}"),
        ({"authorization": AUTH}, [("sentry_key", KEY)]),
    ],
)
def test_two_sources_are_401(headers: dict[str, str], query: str) -> None:
    assert failure(request_credentials, headers, query) == (
        401,
        "multiple authorization payloads detected",
        None,
    )


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"x-sentry-auth": "Sentry sentry_version=7"}, ""),
        ({"x-sentry-auth": "Sentry sentry_key="}, ""),
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=seven"}, ""),
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=70000"}, ""),
        ({"authorization": "Sentry nothing"}, ""),
        ({}, "sentry_version=7"),
        ({}, "note=about_sentry_things"),  # Relay looks for "sentry_" anywhere in the query
    ],
)
def test_malformed_sentry_auth_is_401(headers: dict[str, str], query: str) -> None:
    assert failure(request_credentials, headers, query)[:2] == (401, "bad x-sentry-auth header")


@pytest.mark.parametrize(
    "key", ["abc123", KEY + "0", KEY[:-1], "é" * 16 + "a" * 16, "e12d836b15bb49d7bbf99e64295d995" + "ü"]
)
def test_key_must_be_32_ascii_characters(key: str) -> None:
    headers = {"x-sentry-auth": f"Sentry sentry_key={key}, sentry_version=7"}
    assert failure(request_credentials, headers)[:2] == (400, "bad sentry DSN public key")


def test_protocol_version_above_7_is_400() -> None:
    headers = {"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=8"}
    assert failure(request_credentials, headers)[:2] == (400, "unsupported protocol version (8)")
    old = request_credentials({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=5"})
    assert old is not None and old.version == 5


# -- the envelope header dsn -----------------------------------------------------------


def test_dsn_is_the_fallback() -> None:
    creds = dsn_credentials({"dsn": DSN, "sent_at": None}, 42, None)
    assert creds == Credentials(KEY, "dsn", project_id=42)
    body = b'{"dsn":"' + DSN.encode() + b'"}\n{"type":"session"}\n{}\n'
    assert body_dsn_credentials(body, 42) == creds


def test_missing_dsn_is_401_like_relay() -> None:
    assert failure(body_dsn_credentials, b'{}\n{"type":"session","length":2}\n{}\n', 42) == (
        401,
        "bad envelope authentication header",
        ["missing field `dsn` at line 1 column 2"],
    )
    status, detail, causes = failure(dsn_credentials, {}, 42, None)
    assert (status, detail) == (401, "bad envelope authentication header") and causes


@pytest.mark.parametrize(
    "first_line",
    [
        b"",
        b"not json",
        b"[]",
        b'{"dsn":null}',
        b'{"dsn":42}',
        b'{"dsn":"http://127.0.0.1/42"}',
        b'{"dsn":"http://abc@127.0.0.1/42"}',
        b'{"dsn":"http://' + KEY.encode() + b'@127.0.0.1/"}',
    ],
)
def test_unusable_fallback_is_401(first_line: bytes) -> None:
    status, detail, causes = failure(body_dsn_credentials, first_line + b"\n{}", 42)
    assert (status, detail) == (401, "bad envelope authentication header") and causes


def test_fallback_dsn_must_name_the_url_project() -> None:
    status, detail, _ = failure(dsn_credentials, {"dsn": DSN}, 43, None)
    assert (status, detail) == (400, "invalid event envelope")


def test_dsn_beside_request_credentials() -> None:
    creds = Credentials(KEY, "x-sentry-auth")
    assert dsn_credentials({"dsn": DSN}, 42, creds) is creds
    assert dsn_credentials({"dsn": None}, 42, creds) is creds
    assert dsn_credentials({}, 42, creds) is creds
    for header, project in [
        ({"dsn": DSN}, 7),
        ({"dsn": DSN.replace(KEY, OTHER)}, 42),
        ({"dsn": "not a dsn"}, 42),
        ({"dsn": 1}, 42),
    ]:
        status, detail, causes = failure(dsn_credentials, header, project, creds)
        assert (status, detail) == (400, "invalid event envelope") and causes


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (DSN, (KEY, 42)),
        (f"https://{KEY}:secret@o1.ingest.example.com/1234", (KEY, 1234)),
        (f"http://{KEY}@localhost:8000/sentry/prefix/7/", (KEY, 7)),
    ],
)
def test_parse_dsn(dsn: str, expected: tuple[str, int]) -> None:
    assert parse_dsn(dsn) == expected


@pytest.mark.parametrize(
    "dsn",
    [
        f"ftp://{KEY}@host/42",
        f"http://{KEY}@/42",
        "http://host/42",
        f"http://{KEY}@host/",
        f"http://{KEY}@host/abc",
        "http://short@host/42",
        f"http://{KEY}@host:port/42",
    ],
)
def test_parse_dsn_rejects(dsn: str) -> None:
    with pytest.raises(ValueError):
        parse_dsn(dsn)


# -- the header answers are remembered --------------------------------------------------


def test_repeated_headers_are_answered_from_the_cache_alike() -> None:
    from ingest import credentials

    credentials._header_credentials.cache_clear()
    first = request_credentials({"x-sentry-auth": AUTH})
    again = request_credentials({"x-sentry-auth": AUTH}, [])
    assert again is first and first == Credentials(KEY, "x-sentry-auth", 7, "sentry.python/2.68.0")
    assert credentials._header_credentials.cache_info().hits == 1
    # Failures are not remembered: every request with the header fails the same way.
    both = {"x-sentry-auth": AUTH, "authorization": f"Sentry sentry_key={KEY}"}
    for _ in range(2):
        assert failure(request_credentials, both) == (401, "multiple authorization payloads detected", None)
    # A query string, or headers over the cached size, are parsed every time.
    hits = credentials._header_credentials.cache_info().hits
    assert failure(request_credentials, {"x-sentry-auth": AUTH}, f"sentry_key={KEY}")[0] == 401
    long = AUTH + ", x=" + "y" * credentials._CACHED_HEADERS_SIZE
    assert request_credentials({"x-sentry-auth": long}) == first
    assert credentials._header_credentials.cache_info().hits == hits
