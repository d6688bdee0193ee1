"""GraphQL-over-HTTP details of /graphql: request bodies and batches, errors as GraphQL
JSON (never plain text), and the caching headers of GET queries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import orjson
from cross_web import HTTPException
from strawberry.http import GraphQLRequestData, GraphQLRequestProtocol

from server.responses import JSONResponse

BAD_REQUEST: Final = "BAD_REQUEST"
METHOD_NOT_ALLOWED: Final = "METHOD_NOT_ALLOWED"
UNSUPPORTED_MEDIA_TYPE: Final = "UNSUPPORTED_MEDIA_TYPE"
BATCHING_NOT_ENABLED: Final = "BATCHING_NOT_ENABLED"
BATCH_TOO_LARGE: Final = "BATCH_TOO_LARGE"
_CODES: Final = {400: BAD_REQUEST, 405: METHOD_NOT_ALLOWED, 415: UNSUPPORTED_MEDIA_TYPE}

#: Answers depend on the caller's token (and a browser's cookies, were they ever used).
VARY: Final = "Authorization, Cookie"
NO_STORE: Final = "no-store"


class ProtocolError(HTTPException):
    """A request /graphql cannot run at all: answered `status` with a GraphQL error body."""

    def __init__(
        self, status_code: int, reason: str, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status_code, reason)
        self.code = code or _CODES.get(status_code, BAD_REQUEST)
        self.headers = dict(headers or {})


def error_body(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def error_response(exc: HTTPException) -> JSONResponse:
    """Strawberry's plain-text HTTP errors, and ours, as GraphQL-over-HTTP JSON."""
    code = exc.code if isinstance(exc, ProtocolError) else _CODES.get(exc.status_code, BAD_REQUEST)
    headers = {"Cache-Control": NO_STORE, **(exc.headers if isinstance(exc, ProtocolError) else {})}
    if exc.status_code == 405:
        headers.setdefault("Allow", "GET, POST")
    return JSONResponse(error_body(exc.reason, code), status_code=exc.status_code, headers=headers)


def request_data(item: object, protocol: GraphQLRequestProtocol, where: str = "") -> GraphQLRequestData:
    """One operation of a request (a body, one item of a batch, or the query string),
    with its members checked as the GraphQL-over-HTTP spec says."""
    if not isinstance(item, dict):
        raise ProtocolError(400, f"{where or 'The request'} must be a JSON object with a `query`.")
    for name, kind, label in (
        ("query", str, "a string"),
        ("operationName", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        value = item.get(name)
        if value is not None and not isinstance(value, kind):
            raise ProtocolError(400, f"{where}`{name}` must be {label} or null, if provided.".lstrip())
    return GraphQLRequestData(
        query=item.get("query"),
        variables=item.get("variables"),
        operation_name=item.get("operationName"),
        extensions=item.get("extensions"),
        protocol=protocol,
    )


def encode_json(data: object) -> bytes:
    """An answer as JSON: orjson, several times faster than `json.dumps` on long series
    (a 90-day release page spent more time in the encoder than in its SQL). Whatever orjson
    refuses (an integer beyond 64 bits in an extension, say) falls back to the standard
    encoder, so no answer fails for its encoding."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":")).encode()


def etag(data: object) -> str:
    """A weak validator of an answer's `data`: its `extensions` (the cost budget left)
    change from one request to the next while the data stays the same."""
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return f'W/"{digest}"'


def matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110's weak comparison of `If-None-Match` with `tag`."""
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == opaque for part in if_none_match.split(","))
