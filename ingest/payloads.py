"""Strict parsing of `session` and `sessions` payloads (`ingest.md` 8, 9).

Mirrors Relay's serde types (`SessionUpdate`, `SessionAggregates`): a value of the wrong
JSON type fails the whole item, including `null` where Relay has no default for it. Numbers
follow serde's integer rules: JSON booleans and floats (even `1.0`) are not integers.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.timestamps import parse_timestamp
from ingest.uuids import canonical_uuid

KNOWN_STATUSES = frozenset({"ok", "exited", "crashed", "abnormal", "errored", "unhandled"})

AUTO_IP = "{{auto}}"

_U32_LIMIT = 1 << 32
_U64_LIMIT = 1 << 64
_MISSING: Any = object()


class InvalidPayload(ValueError):
    """The payload breaks the strict schema; the item is dropped as `invalid_payload`."""


@dataclass(slots=True)
class SessionAttributes:
    release: str
    environment: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(slots=True)
class SessionUpdate:
    """One `session` item. Times are unix seconds; `sid` is canonical hyphenated.

    `init` and `timestamp` stay None when absent, because the import convention and the
    default timestamp depend on whether they were sent.
    """

    sid: str
    did: str | None
    seq: int | None
    init: bool | None
    timestamp: float | None
    started: float
    duration: float | None
    status: str
    errors: int
    abnormal_mechanism: str | None
    attrs: SessionAttributes


@dataclass(slots=True)
class AggregateBucket:
    started: float
    did: str | None = None
    exited: int = 0
    errored: int = 0
    abnormal: int = 0
    crashed: int = 0
    unhandled: int = 0


@dataclass(slots=True)
class SessionAggregates:
    attrs: SessionAttributes
    aggregates: list[AggregateBucket]


def parse_session_update(payload: bytes | str | Mapping[str, Any]) -> SessionUpdate:
    """Parse one `session` payload (raw JSON, or an already decoded object)."""
    obj = _object(payload, "session payload")

    sid_value = obj.get("sid", _MISSING)
    if sid_value is _MISSING:
        sid = str(uuid.uuid4())
    else:
        parsed_sid = canonical_uuid(sid_value) if type(sid_value) is str else None
        if parsed_sid is None:
            raise InvalidPayload("`sid` is not a UUID")
        sid = parsed_sid

    init = obj.get("init", _MISSING)
    if init is _MISSING:
        init = None
    elif type(init) is not bool:
        raise InvalidPayload("`init` is not a boolean")

    timestamp_value = obj.get("timestamp", _MISSING)
    timestamp = None if timestamp_value is _MISSING else _timestamp(timestamp_value, "timestamp")

    duration = obj.get("duration")
    if duration is not None:
        if type(duration) is int:
            duration = float(duration)
        elif type(duration) is not float:
            raise InvalidPayload("`duration` is not a number")

    status = obj.get("status", "ok")
    if type(status) is not str:
        raise InvalidPayload("`status` is not a string")

    mechanism = obj.get("abnormal_mechanism")
    if mechanism is not None and type(mechanism) is not str:
        raise InvalidPayload("`abnormal_mechanism` is not a string")

    return SessionUpdate(
        sid=sid,
        did=_distinct_id(obj),
        seq=_optional_uint(obj, "seq", _U64_LIMIT),
        init=init,
        timestamp=timestamp,
        started=_timestamp(obj.get("started", _MISSING), "started"),
        duration=duration,
        status=status,
        errors=_uint(obj, "errors", _U64_LIMIT),
        abnormal_mechanism=mechanism,
        attrs=_attributes(obj),
    )


def parse_session_aggregates(payload: bytes | str | Mapping[str, Any]) -> SessionAggregates:
    """Parse one `sessions` payload (raw JSON, or an already decoded object)."""
    obj = _object(payload, "sessions payload")
    attrs = _attributes(obj)
    values = obj.get("aggregates", [])
    if type(values) is not list:
        raise InvalidPayload("`aggregates` is not a list")
    buckets = []
    limit = _U32_LIMIT
    for value in values:
        if type(value) is not dict:
            raise InvalidPayload("an aggregate is not an object")
        get = value.get
        # Checked in the order the fields were always checked (the error names the first).
        started = _timestamp(get("started", _MISSING), "started")
        did = _distinct_id(value)
        exited, errored, abnormal = get("exited", 0), get("errored", 0), get("abnormal", 0)
        crashed, unhandled = get("crashed", 0), get("unhandled", 0)
        # Hot with SDK aggregate flushes (tens of buckets each): the five checks inline,
        # `_uint` only for the error of a bad one. `type(...) is int` refuses booleans.
        if not (
            type(exited) is int
            and type(errored) is int
            and type(abnormal) is int
            and type(crashed) is int
            and type(unhandled) is int
            and 0 <= exited < limit
            and 0 <= errored < limit
            and 0 <= abnormal < limit
            and 0 <= crashed < limit
            and 0 <= unhandled < limit
        ):
            exited, errored, abnormal, crashed, unhandled = (_uint(value, n, limit) for n in _BUCKET_COUNTS)
        buckets.append(
            AggregateBucket(
                started,
                did,
                exited,
                errored,
                abnormal,
                crashed,
                unhandled,
            )
        )
    return SessionAggregates(attrs=attrs, aggregates=buckets)


#: The counters of an aggregate bucket, in `AggregateBucket`'s order.
_BUCKET_COUNTS = ("exited", "errored", "abnormal", "crashed", "unhandled")


def json_object(payload: bytes | str | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """The payload as a JSON object; InvalidPayload when it is not one."""
    return _object(payload, what)


def _object(payload: bytes | str | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if type(payload) is dict:
        return payload
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise InvalidPayload(f"{what} is not valid JSON: {error}") from None
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise InvalidPayload(f"{what} is not a JSON object")
    return payload


def _timestamp(value: Any, name: str) -> float:
    if value is _MISSING:
        raise InvalidPayload(f"`{name}` is missing")
    parsed = parse_timestamp(value) if type(value) is str else None
    if parsed is None:
        raise InvalidPayload(f"`{name}` is not an RFC 3339 timestamp with a timezone")
    return parsed


def _optional_uint(obj: Mapping[str, Any], name: str, limit: int) -> int | None:
    value = obj.get(name, _MISSING)
    if value is _MISSING:
        return None
    if type(value) is not int or not 0 <= value < limit:
        raise InvalidPayload(f"`{name}` is not a non-negative integer below {limit}")
    return value


def _uint(obj: Mapping[str, Any], name: str, limit: int) -> int:
    """Like `_optional_uint`, with 0 for an absent field."""
    value = _optional_uint(obj, name, limit)
    return 0 if value is None else value


def _distinct_id(obj: Mapping[str, Any]) -> str | None:
    did = obj.get("did")
    if did is not None and type(did) is not str:
        raise InvalidPayload("`did` is not a string")
    return did


def _attributes(obj: Mapping[str, Any]) -> SessionAttributes:
    attrs = obj.get("attrs")
    if type(attrs) is not dict:
        raise InvalidPayload("`attrs` is missing or not an object")
    release = attrs.get("release")
    if type(release) is not str:
        raise InvalidPayload("`attrs.release` is missing or not a string")
    environment = _optional_str(attrs, "environment")
    user_agent = _optional_str(attrs, "user_agent")
    ip_address = _optional_str(attrs, "ip_address")
    if ip_address is not None and not _is_ip_address(ip_address):
        raise InvalidPayload("`attrs.ip_address` is not an IP address")
    return SessionAttributes(release, environment, ip_address, user_agent)


def _optional_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is not None and type(value) is not str:
        raise InvalidPayload(f"`attrs.{name}` is not a string")
    return value


def _is_ip_address(value: str) -> bool:
    if value == AUTO_IP:
        return True
    if "%" in value:
        return False  # IPv6 zone ids are not addresses in Rust's `IpAddr`
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
