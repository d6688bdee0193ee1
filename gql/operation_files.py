"""Operations of `.graphql` files as a client sends them, for the allowlist.

The hash of a registered operation is the SHA-256 of the exact text Apollo Client sends
(Apollo's persisted-query link hashes `print(document)`, the document being the one the
cache transformed):

1. each operation of a file becomes its own document: the operation and the fragments it
   uses (transitively), in the order they appear in the file;
2. Apollo's cache adds `__typename` to every selection set except an operation's own
   (`addTypenameToDocument`: not where a `__typename` or another `__` field is already
   selected, nor below a field with `@export`); `--no-typename` skips this step for
   clients that do not (graphql-request, plain `fetch`);
3. the client-only directives `@connection`, `@nonreactive` and `@unmask` are removed, as
   Apollo removes them before sending (a file using `@client` fields is refused);
4. the document is printed by graphql-core's `print_ast`, which prints as graphql-js's
   `print` (checked against Apollo Client 4 by tests/test_graphql_persisted_apollo.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSyntaxError,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from graphql.language import BREAK

from gql.persisted import sha256_hex

#: Directives Apollo Client removes before a document leaves the client.
CLIENT_DIRECTIVES = frozenset({"connection", "nonreactive", "unmask"})


class OperationFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Operation:
    name: str | None
    document: str
    sha256: str


def operations(text: str, *, typename: bool = True, source: str = "<file>") -> list[Operation]:
    """Every operation of a `.graphql` file's text, as the client sends it."""
    try:
        doc = parse(text, no_location=True)
    except GraphQLSyntaxError as exc:
        raise OperationFileError(f"{source}: {exc.message}") from None
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if not ops:
        raise OperationFileError(f"{source}: no operation (only fragments or type definitions)")
    if len(ops) > 1 and any(op.name is None for op in ops):
        raise OperationFileError(f"{source}: an anonymous operation must be the file's only one")
    out = []
    for op in ops:
        used = _used_fragments(op, fragments, source)
        definitions = tuple(d for d in doc.definitions if d is op or (d in used))
        one = DocumentNode(definitions=definitions)
        if _uses_client_fields(one):
            raise OperationFileError(f"{source}: @client fields are resolved by the client, not registered")
        one = _strip_client_directives(one)
        if typename:
            one = add_typename(one)
        printed = print_ast(one)
        out.append(Operation(op.name.value if op.name else None, printed, sha256_hex(printed)))
    return out


def _used_fragments(
    op: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode], source: str
) -> list[FragmentDefinitionNode]:
    found: dict[str, FragmentDefinitionNode] = {}
    pending: list[Node] = [op]
    names: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            names.append(node.name.value)

    while pending:
        names.clear()
        visit(pending.pop(), Spreads())
        for name in names:
            if name in found:
                continue
            if name not in fragments:
                raise OperationFileError(f"{source}: unknown fragment {name!r}")
            found[name] = fragments[name]
            pending.append(fragments[name])
    return list(found.values())


def _uses_client_fields(doc: DocumentNode) -> bool:
    seen = False

    class Client(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> Any:
            nonlocal seen
            if node.name.value == "client":
                seen = True
                return BREAK
            return None

    visit(doc, Client())
    return seen


def _strip_client_directives(doc: DocumentNode) -> DocumentNode:
    class Strip(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> Any:
            return Visitor.REMOVE if node.name.value in CLIENT_DIRECTIVES else None

    result: DocumentNode = visit(doc, Strip())
    return result


TYPENAME = FieldNode(name=NameNode(value="__typename"), arguments=(), directives=())


def add_typename(doc: DocumentNode) -> DocumentNode:
    """Apollo Client's `addTypenameToDocument`."""

    class AddTypename(Visitor):
        def enter_selection_set(self, node: SelectionSetNode, _key: Any, parent: Any, *_: Any) -> Any:
            if isinstance(parent, OperationDefinitionNode) or not node.selections:
                return None
            if any(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections):
                return None
            exported = isinstance(parent, FieldNode) and any(
                d.name.value == "export" for d in parent.directives or ()
            )
            if exported:
                return None
            return SelectionSetNode(selections=(*node.selections, TYPENAME))

    result: DocumentNode = visit(doc, AddTypename())
    return result
