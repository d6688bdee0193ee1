"""Parsing and validation with limits, and a cache of valid documents bounded in bytes.

Replaces Strawberry's ParserCache / ValidationCache, which count entries (512 documents
of any size) and keep rejected documents too. Here:

- a document is parsed with a token, comment and length limit (a longer one is refused
  with `MAX_TOKENS_EXCEEDED` before it is built);
- only documents that parsed, validated and were let through the cost limit are kept,
  so junk sent once never occupies memory;
- the cache holds at most `max_bytes` of estimated memory (the query text plus a measured
  per-token size of the AST and its token list), least recently used out first.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_TOKENS_EXCEEDED = "MAX_TOKENS_EXCEEDED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"

#: Retained bytes per lexical token of a parsed document with locations (AST nodes, their
#: Location and Token objects), measured with tracemalloc on graphql-core 3.3: 350 to 550
#: for real queries, 960 for a three-token one; see tests/test_graphql_limits_cache.py.
BYTES_PER_TOKEN = 640
#: The DocumentNode, its Source and the cache entry.
BYTES_PER_DOCUMENT = 4096

#: Called with the query text of an operation that was accepted (it parsed, validated and
#: passed the cost limit), in the task that executes it: the persisted-query store keeps
#: only such documents (server/graphql_endpoint.py sets it per operation).
on_accepted: ContextVar[Callable[[str], None] | None] = ContextVar("on_accepted", default=None)


def document_bytes(query: str, document: DocumentNode) -> int:
    """Estimated memory kept alive by caching `document` under `query`."""
    size = sys.getsizeof(query) + BYTES_PER_DOCUMENT
    token = document.loc.start_token if document.loc is not None else None
    while token is not None:
        size += BYTES_PER_TOKEN
        if token.value is not None and len(token.value) > 32:
            size += sys.getsizeof(token.value)  # long names and strings: their own copy
        token = token.next
    return size


class DocumentCache:
    """Valid documents by query text, least recently used first, at most `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, tuple[DocumentNode, int]] = OrderedDict()
        # Strawberry may run sync executions in threads; the dict moves must not interleave.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, query: object) -> bool:
        return query in self._entries

    def get(self, query: str) -> DocumentNode | None:
        with self._lock:
            entry = self._entries.get(query)
            if entry is None:
                return None
            self._entries.move_to_end(query)
            return entry[0]

    def put(self, query: str, document: DocumentNode) -> None:
        size = document_bytes(query, document)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(query, None)
            if old is not None:
                self.bytes -= old[1]
            while self._entries and self.bytes + size > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed
            self._entries[query] = (document, size)
            self.bytes += size


class ParseAndValidate(SchemaExtension):
    """Parses with limits and validates once per distinct valid document.

    The validation rules are the execution's own (`execution_context.validation_rules`,
    built once per schema), so a cached document was validated by exactly these rules."""

    def __init__(self, cache: DocumentCache, *, max_tokens: int, max_length: int) -> None:
        super().__init__()
        self.cache = cache
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.hit = False
        self.valid_new: DocumentNode | None = None

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        query = ec.query
        if query and ec.graphql_document is None:
            cached = self.cache.get(query)
            if cached is not None:
                self.hit = True
                ec.graphql_document = cached
            else:
                ec.graphql_document = self._parse(query)
        yield

    def _parse(self, query: str) -> DocumentNode:
        try:
            return parse(
                query,
                max_lexical_tokens=self.max_tokens,
                max_comments=self.max_tokens,
                max_source_length=self.max_length,
            )
        except GraphQLSyntaxError as exc:
            too_large = "Parsing aborted" in exc.message
            raise GraphQLError(
                exc.message,
                source=exc.source,
                positions=exc.positions,
                extensions={"code": MAX_TOKENS_EXCEEDED if too_large else GRAPHQL_PARSE_FAILED},
            ) from None

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if self.hit:
            ec.pre_execution_errors = []  # validated when it was cached
        elif ec.graphql_document is not None and ec.pre_execution_errors is None:
            errors = validate_document(ec.schema._schema, ec.graphql_document, ec.validation_rules)
            ec.pre_execution_errors = errors
            if not errors:
                self.valid_new = ec.graphql_document
        yield

    def on_execute(self) -> Iterator[None]:
        # Runs after the cost limit's check (it comes earlier in the extension list): a
        # document refused for its cost is not kept either.
        ec = self.execution_context
        if ec.result is None and ec.query and (self.hit or self.valid_new is not None):
            if self.valid_new is not None:
                self.cache.put(ec.query, self.valid_new)
            accepted = on_accepted.get()
            if accepted is not None:
                accepted(ec.query)
        yield
