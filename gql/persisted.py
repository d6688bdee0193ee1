"""Persisted queries: Apollo's APQ protocol (version 1) and the allowlist's lookups.

A request names a document by `extensions.persistedQuery = {"version": 1, "sha256Hash":
"<64 lower-case hex>"}`, the SHA-256 of the exact query text, with or without the text:

- hash only: the stored text runs, or `PERSISTED_QUERY_NOT_FOUND` (Apollo's link then
  sends the text with the hash);
- text and hash: the hash must be the text's (`PERSISTED_QUERY_HASH_MISMATCH`); the text
  runs, and is stored once the operation was accepted (it parsed, validated and passed
  the cost limit: `gql.core.cache.ParseAndValidate` reports acceptance), so a document that
  is refused never occupies memory.

The in-memory store is bounded in bytes, least recently used out first, per process.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
from collections import OrderedDict
from typing import Any, Final

PERSISTED_QUERY_NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED: Final = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_NOT_ALLOWED: Final = "PERSISTED_QUERY_NOT_ALLOWED"
PERSISTED_QUERY_HASH_MISMATCH: Final = "PERSISTED_QUERY_HASH_MISMATCH"
PERSISTED_QUERY_VERSION_NOT_SUPPORTED: Final = "PERSISTED_QUERY_VERSION_NOT_SUPPORTED"
PERSISTED_QUERY_INVALID: Final = "PERSISTED_QUERY_INVALID"

#: The only version of Apollo's protocol.
VERSION: Final = 1
_HASH = re.compile(r"[0-9a-f]{64}")
#: The dict entry, the hash string and the key's bookkeeping, beside the text itself.
ENTRY_OVERHEAD: Final = 400


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: a GraphQL error with `code`. Apollo's
    link recognizes the messages `PersistedQueryNotFound` / `PersistedQueryNotSupported`
    (and the codes), so those keep Apollo's exact message."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def not_found() -> PersistedQueryError:
    return PersistedQueryError("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)


def not_supported() -> PersistedQueryError:
    return PersistedQueryError("PersistedQueryNotSupported", PERSISTED_QUERY_NOT_SUPPORTED)


def requested_hash(extensions: Any) -> str | None:
    """The hash of `extensions.persistedQuery`, None without one; a malformed or
    unsupported one raises."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    pq = extensions["persistedQuery"]
    if not isinstance(pq, dict):
        raise PersistedQueryError(
            "`extensions.persistedQuery` must be an object with `version` and `sha256Hash`.",
            PERSISTED_QUERY_INVALID,
        )
    if pq.get("version") != VERSION:
        raise PersistedQueryError(
            f"Unsupported persisted query version {pq.get('version')!r}: only version {VERSION} "
            "(Apollo's automatic persisted queries) is supported.",
            PERSISTED_QUERY_VERSION_NOT_SUPPORTED,
        )
    digest = pq.get("sha256Hash")
    if not isinstance(digest, str) or not _HASH.fullmatch(digest):
        raise PersistedQueryError(
            "`extensions.persistedQuery.sha256Hash` must be the SHA-256 of the query as 64 "
            "lower-case hexadecimal digits.",
            PERSISTED_QUERY_INVALID,
        )
    return digest


def check_hash(query: str, digest: str) -> None:
    if sha256_hex(query) != digest:
        raise PersistedQueryError(
            "provided sha does not match query: `extensions.persistedQuery.sha256Hash` must be "
            "the SHA-256 of the exact `query` text (UTF-8).",
            PERSISTED_QUERY_HASH_MISMATCH,
        )


def entry_bytes(query: str) -> int:
    return sys.getsizeof(query) + ENTRY_OVERHEAD


class QueryStore:
    """Query texts by hash, least recently used first, at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: str) -> str | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            self._entries.move_to_end(digest)
            return entry[0]

    def put(self, digest: str, query: str) -> None:
        size = entry_bytes(query)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(digest, None)
            if old is not None:
                self.bytes -= old[1]
            while self._entries and self.bytes + size > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed
            self._entries[digest] = (query, size)
            self.bytes += size
