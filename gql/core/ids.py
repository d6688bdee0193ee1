"""Record ids as GraphQL passes them (`ID`, a string), and the global ids of API v2's
`Node`s: parsed once, refused clearly."""

from __future__ import annotations

import base64
import json
from typing import Any

import strawberry

from gql.core.errors import BadUserInput
from resolvers.ids import MAX_ID, parse_record_id


def parse_id(value: strawberry.ID | str, what: str = "project") -> int:
    text = str(value)
    parsed = parse_record_id(text)
    if parsed is None:
        raise BadUserInput(f"Invalid {what} id: {text[:40]!r} (ids are 1 to {MAX_ID})")
    return parsed


def as_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


# -- Global ids (Relay `Node.id`) -------------------------------------------------------
#
# Opaque to clients: URL-safe base64 (unpadded) of `<Type>:<key parts as a JSON array>`,
# e.g. `Release:[1,"web@1.4.2"]`. The type name inside makes every id unique across types,
# so `node(id:)` knows what to fetch; the JSON keeps any version string intact.

#: The longest global id accepted (a release's version is at most 200 characters, plus a
#: scope with a few environments).
MAX_GLOBAL_ID = 4096


def invalid_id(value: str) -> BadUserInput:
    """The error for an id this API did not issue (malformed, forged, of another type)."""
    return BadUserInput(f"Invalid id: {str(value)[:40]!r} is not an id this API issued")


def global_id(type_name: str, *parts: object) -> strawberry.ID:
    text = f"{type_name}:{json.dumps(list(parts), separators=(',', ':'), ensure_ascii=False)}"
    return strawberry.ID(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))


def parse_global_id(value: str, *expected: str) -> tuple[str, list[Any]]:
    """`(type name, key parts)` of a global id; `BAD_USER_INPUT` for anything that is not
    one (or, with `expected`, not one of those types)."""
    text = str(value)
    try:
        if len(text) > MAX_GLOBAL_ID:
            raise ValueError
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        type_name, _, payload = decoded.partition(":")
        parts = json.loads(payload)
        if not type_name.isidentifier() or not isinstance(parts, list):
            raise ValueError
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise invalid_id(text) from None
    if expected and type_name not in expected:
        raise BadUserInput(f"Invalid id: expected the id of a {' or '.join(expected)}, got a {type_name}'s")
    return type_name, parts


def project_id_of(value: str) -> int:
    """A project given by its global id or, as DSNs and Sentry's APIs name it, by its
    numeric id."""
    text = str(value)
    if text.isdigit() or text.startswith("-"):
        return parse_id(text)
    _, parts = parse_global_id(text, "Project")
    if len(parts) != 1 or not isinstance(parts[0], int) or isinstance(parts[0], bool):
        raise invalid_id(text)
    return parse_id(str(parts[0]))


def record_id_of(value: str, type_name: str, what: str) -> int:
    """The record id inside a global id of `type_name` that has one key part (a gate, a
    webhook endpoint); `BAD_USER_INPUT` for anything else."""
    _, parts = parse_global_id(value, type_name)
    if len(parts) != 1 or not isinstance(parts[0], int) or isinstance(parts[0], bool):
        raise invalid_id(value)
    return parse_id(str(parts[0]), what)
