"""Where an envelope's DSN public key comes from (`ingest.md` 2).

The order of the sources, the "second source is an error" rule and every status code follow
Relay's `auth_from_parts` and the envelope endpoint's `dsn` fallback. A transport uses it as:

    creds = request_credentials(headers, query) or body_dsn_credentials(body, project_id)
    envelope = parse_envelope(body)
    creds = dsn_credentials(envelope.headers, project_id, creds)

The fallback reads only the first body line, before framing is checked, so that a request
without any credentials is answered 401 whatever its body looks like.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import orjson

from ingest.errors import IngestError, invalid_envelope

#: The newest protocol version relhealth understands; `sentry_version` above it is a 400.
PROTOCOL_VERSION = 7

CredentialSource = Literal["x-sentry-auth", "authorization", "basic", "query", "dsn"]

_VERSION = re.compile(r"\+?[0-9]+")

BAD_AUTH = "bad x-sentry-auth header"
MULTIPLE_AUTH = "multiple authorization payloads detected"
BAD_ENVELOPE_AUTH = "bad envelope authentication header"
BAD_PUBLIC_KEY = "bad sentry DSN public key"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A validated client key: exactly 32 ASCII characters (key flags after `.` removed).

    `project_id` is only known when the key came from an envelope header `dsn`.
    """

    public_key: str
    source: CredentialSource
    version: int = PROTOCOL_VERSION
    client: str | None = None
    project_id: int | None = None


def request_credentials(
    headers: Mapping[str, str], query: str | Sequence[tuple[str, str]] = ""
) -> Credentials | None:
    """Credentials from the request itself (sources 1-4), or None when there are none.

    `headers` is looked up with lower-case names (a Starlette `Headers` works as is);
    `query` is the raw query string, or its already decoded pairs.
    """
    sentry_auth = headers.get("x-sentry-auth")
    authorization = headers.get("authorization")
    if not query and len(sentry_auth or "") + len(authorization or "") <= _CACHED_HEADERS_SIZE:
        # An SDK sends the same header with every envelope: its answer is remembered
        # (only answers are; a header that fails is parsed, and fails, every time).
        return _header_credentials(sentry_auth, authorization)
    return _credentials(sentry_auth, authorization, query)


#: Header values up to this many characters (together) have their credentials cached.
_CACHED_HEADERS_SIZE = 512


@functools.lru_cache(maxsize=1024)
def _header_credentials(sentry_auth: str | None, authorization: str | None) -> Credentials | None:
    return _credentials(sentry_auth, authorization, "")


def _credentials(
    sentry_auth: str | None, authorization: str | None, query: str | Sequence[tuple[str, str]]
) -> Credentials | None:
    found: Credentials | None = None

    def take(creds: Credentials) -> None:
        nonlocal found
        if found is not None:
            raise IngestError(401, MULTIPLE_AUTH)
        found = creds

    sentry_header = _sentry_scheme(sentry_auth)
    if sentry_header is not None:
        take(_from_pairs(_header_pairs(sentry_header), "x-sentry-auth"))

    sentry_authorization = _sentry_scheme(authorization)
    if sentry_authorization is not None:
        take(_from_pairs(_header_pairs(sentry_authorization), "authorization"))

    basic_key = _basic_key(authorization)
    if basic_key is not None:
        take(Credentials(public_key=basic_key, source="basic"))

    if isinstance(query, str):
        if "sentry_" in query:
            take(_from_pairs(parse_qsl(query, keep_blank_values=True), "query"))
    elif any("sentry_" in name or "sentry_" in value for name, value in query):
        take(_from_pairs(query, "query"))

    if found is None:
        return None
    key = _project_key(found.public_key)
    if key is None:
        raise IngestError(400, BAD_PUBLIC_KEY)
    if found.version > PROTOCOL_VERSION:
        raise IngestError(400, f"unsupported protocol version ({found.version})")
    return Credentials(key, found.source, found.version, found.client)


def body_dsn_credentials(body: bytes, url_project_id: int) -> Credentials:
    """Source 5: the `dsn` of the envelope header, read from the first line of the body.

    Only for requests without credentials of their own; every failure is a 401.
    """
    line = body.split(b"\n", 1)[0]
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise IngestError(401, BAD_ENVELOPE_AUTH, [str(error)]) from None
    if isinstance(header, dict) and "dsn" not in header:
        # Worded like Relay's serde error, which clients may have seen before.
        column = len(line.rstrip())
        raise IngestError(401, BAD_ENVELOPE_AUTH, [f"missing field `dsn` at line 1 column {column}"])
    return dsn_credentials(header, url_project_id, None)


def dsn_credentials(
    envelope_header: Mapping[str, Any] | Any,
    url_project_id: int,
    request_creds: Credentials | None,
) -> Credentials:
    """Reconcile the envelope header's `dsn` with the request (`ingest.md` 2.2).

    Without request credentials the `dsn` is the credential (401 when absent or unusable).
    With them, a `dsn` must name the same key; in both cases its project id must be the
    URL's (400 `invalid event envelope` otherwise).
    """
    dsn = envelope_header.get("dsn") if isinstance(envelope_header, Mapping) else None
    if request_creds is None:
        if not isinstance(envelope_header, Mapping):
            raise IngestError(401, BAD_ENVELOPE_AUTH, ["envelope header is not an object"])
        if not isinstance(dsn, str):
            cause = "missing field `dsn`" if dsn is None else "invalid type for `dsn`"
            raise IngestError(401, BAD_ENVELOPE_AUTH, [cause])
        try:
            key, project_id = parse_dsn(dsn)
        except ValueError as error:
            raise IngestError(401, BAD_ENVELOPE_AUTH, [str(error)]) from None
        if project_id != url_project_id:
            raise invalid_envelope("project id header mismatch between envelope and request")
        return Credentials(public_key=key, source="dsn", project_id=project_id)

    if dsn is None:
        return request_creds
    if not isinstance(dsn, str):
        raise invalid_envelope("invalid envelope header", "invalid type for `dsn`")
    try:
        key, project_id = parse_dsn(dsn)
    except ValueError as error:
        raise invalid_envelope("invalid envelope header", str(error)) from None
    if project_id != url_project_id:
        raise invalid_envelope("project id header mismatch between envelope and request")
    if key != request_creds.public_key:
        raise invalid_envelope("public key header mismatch between envelope and request")
    return request_creds


def parse_dsn(dsn: str) -> tuple[str, int]:
    """(public key, project id) of `{scheme}://{key}[:{secret}]@{host}[:port][/path]/{id}`.

    Raises ValueError with a short reason when `dsn` is not such a DSN.
    """
    parts = urlsplit(dsn)  # may itself raise ValueError
    if parts.scheme not in ("http", "https"):
        raise ValueError("unsupported DSN scheme")
    if not parts.hostname:
        raise ValueError("missing DSN host")
    _ = parts.port  # raises ValueError for a malformed port
    if not parts.username:
        raise ValueError("missing DSN public key")
    segment = parts.path.strip("/").rpartition("/")[2]
    if not (segment.isascii() and segment.isdigit()):
        raise ValueError("missing DSN project id")
    if len(parts.username) != 32 or not parts.username.isascii():
        raise ValueError("invalid DSN public key")
    return parts.username, int(segment)


def _sentry_scheme(value: str | None) -> str | None:
    """The header value when it uses the `Sentry` scheme; other schemes are not ours."""
    if value is not None and len(value) >= 7 and value[:7].lower() == "sentry ":
        return value
    return None


def _header_pairs(value: str) -> list[tuple[str, str]]:
    """`Sentry k=v, k=v` as pairs; items without `=` are skipped, as Relay does."""
    pairs = []
    for item in value.partition(" ")[2].split(","):
        parts = item.split("=")
        if len(parts) >= 2:
            pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def _from_pairs(pairs: Sequence[tuple[str, str]], source: CredentialSource) -> Credentials:
    key = ""
    version = PROTOCOL_VERSION
    client = None
    for name, value in pairs:
        if name == "sentry_key":
            key = value
        elif name == "sentry_version":
            major = value.split(".", 1)[0]
            if not _VERSION.fullmatch(major) or int(major) > 0xFFFF:
                raise IngestError(401, BAD_AUTH)
            version = int(major)
        elif name == "sentry_client":
            client = value
    if not key:
        raise IngestError(401, BAD_AUTH)
    return Credentials(public_key=key, source=source, version=version, client=client)


def _basic_key(authorization: str | None) -> str | None:
    """The user name of `Authorization: Basic`; an unusable one is not a credential."""
    if authorization is None or len(authorization) < 6:
        return None
    if authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, colon, _ = decoded.partition(":")
    return key if colon and key else None


def _project_key(key: str) -> str | None:
    """The 32-character key without Relay's `.flag` suffixes, or None when malformed."""
    key = key.split(".", 1)[0]
    return key if len(key) == 32 and key.isascii() else None
