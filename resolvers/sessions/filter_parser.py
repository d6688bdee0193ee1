"""Tokenizer and parser of the `query` search filter (`release-health.md` 8.6).

A port of the shape of upstream's `event_search` grammar, restricted to what the sessions
endpoint uses:

    search       = spaces term*
    term         = (boolean_op / paren_group / filter / free_text) spaces
    boolean_op   = /OR/i or /AND/i followed by whitespace, `)` or the end
    paren_group  = "(" spaces term+ ")"
    filter       = "!"? key ":" (list / operator? value)
    key          = [a-zA-Z0-9_.-]+ / '"' [a-zA-Z0-9_.:-]+ '"'
    operator     = ">=" / "<=" / ">" / "<" / "=" / "!="
    value        = '"' ( '\\"' / [^"] )* '"' / [^()\\s]*
    list         = "[" item (spaces "," spaces item)* "]"  followed by whitespace, `)` or end
    free_text    = a quoted string or a run of characters up to whitespace or a parenthesis

Free text is a term with the key `message`. The result is a list of top-level `Token`s;
`to_expression` builds the boolean tree (AND binds tighter than OR).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from . import errors
from .errors import SessionsQueryError

Operator = Literal["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"]

#: Upstream `OPERATOR_NEGATION_MAP`; a negated operator missing here becomes `!=`.
_NEGATION: dict[str, Operator] = {
    "=": "!=",
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
    "IN": "NOT IN",
}
_OPERATORS: tuple[Operator, ...] = (">=", "<=", ">", "<", "=", "!=")
_KEY_RE = re.compile(r"[a-zA-Z0-9_.-]+")
_QUOTED_KEY_RE = re.compile(r'"([a-zA-Z0-9_.:-]+)"')
_QUOTED_VALUE_RE = re.compile(r'"((?:\\"|[^"])*)"')
_VALUE_RE = re.compile(r"[^()\s]*")
_IN_VALUE_RE = re.compile(r"[^(),\s\]]+")
_FREE_WORD_RE = re.compile(r"[^()\s]+")
_BOOLEAN_RE = re.compile(r"(OR|AND)(?=[\s)]|\Z)", re.IGNORECASE)
_SPACES = " \t\n\r"

MESSAGE_KEY = "message"

# Limits of a `query` (README "Limits on queries"), beyond upstream's grammar: here the
# filter becomes one SQL expression, and SQLite refuses expression trees deeper than 1000
# (a long OR chain is that deep). The length bounds parsing time; the depth bounds the
# parser's recursion (three frames a level); conditions and list values bound the SQL.
# Each is far above what a person writes.
MAX_QUERY_LENGTH = 10_000
MAX_DEPTH = 20
MAX_CONDITIONS = 100
MAX_VALUES = 1000
QUERY_TOO_LONG = f"Invalid query: the search filter is longer than {MAX_QUERY_LENGTH} characters"
QUERY_TOO_DEEP = f"Invalid query: parentheses are nested deeper than {MAX_DEPTH} levels"
TOO_MANY_CONDITIONS = f"Invalid query: the search filter has more than {MAX_CONDITIONS} conditions"
TOO_MANY_VALUES = f"Invalid query: the search filter lists more than {MAX_VALUES} values"


@dataclass(frozen=True, slots=True)
class SearchTerm:
    """One `key:value` condition (or free text, with key `message`).

    `operator` is the effective operator after applying `!` as upstream does
    (`!key:>v` means `<=`); `value` is a string, or a tuple for `IN` / `NOT IN`. `quoted`
    tells that a single value was written in double quotes (quotes removed, `\\"`
    unescaped). `position` is the 0-based offset of the term in the query.
    """

    key: str
    operator: Operator
    value: str | tuple[str, ...]
    negated: bool
    written_operator: str
    quoted: bool
    position: int

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, tuple)

    @property
    def values(self) -> tuple[str, ...]:
        return self.value if isinstance(self.value, tuple) else (self.value,)


@dataclass(frozen=True, slots=True)
class BooleanOperator:
    operator: Literal["AND", "OR"]
    position: int


@dataclass(frozen=True, slots=True)
class ParenGroup:
    children: tuple[Token, ...]
    position: int


Token = SearchTerm | BooleanOperator | ParenGroup


@dataclass(frozen=True, slots=True)
class AndExpr:
    terms: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class OrExpr:
    terms: tuple[Expression, ...]


Expression = SearchTerm | AndExpr | OrExpr


def effective_operator(written: str, negated: bool) -> Operator:
    operator: Operator = "=" if not written else _as_operator(written)
    if negated:
        return _NEGATION.get(operator, "!=")
    return operator


def _as_operator(text: str) -> Operator:
    for operator in (*_OPERATORS, "IN", "NOT IN"):
        if operator == text:
            return operator
    raise ValueError(text)


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0
        self.depth = 0
        self.conditions = 0
        self.values = 0

    def error(self, index: int | None = None) -> SessionsQueryError:
        return SessionsQueryError(errors.parse_error(self.query, self.pos if index is None else index))

    def skip_spaces(self) -> None:
        while self.pos < len(self.query) and self.query[self.pos] in _SPACES:
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.query)

    def parse_terms(self, in_group: bool) -> list[Token]:
        tokens: list[Token] = []
        self.skip_spaces()
        while not self.at_end():
            char = self.query[self.pos]
            if char == ")":
                if in_group:
                    return tokens
                raise self.error()
            tokens.append(self.parse_term())
            self.skip_spaces()
        if in_group:
            raise self.error()
        return tokens

    def parse_term(self) -> Token:
        token = self.parse_token()
        if isinstance(token, SearchTerm):
            # counted as they are read, so a huge query stops early
            self.conditions += 1
            self.values += len(token.values)
            if self.conditions > MAX_CONDITIONS:
                raise SessionsQueryError(TOO_MANY_CONDITIONS)
            if self.values > MAX_VALUES:
                raise SessionsQueryError(TOO_MANY_VALUES)
        return token

    def parse_token(self) -> Token:
        start = self.pos
        boolean = _BOOLEAN_RE.match(self.query, self.pos)
        if boolean is not None:
            self.pos = boolean.end()
            word = boolean.group(1).upper()
            return BooleanOperator("OR" if word == "OR" else "AND", start)
        if self.query[self.pos] == "(":
            group = self.try_paren_group()
            if group is not None:
                return group
            return self.parse_free_text()
        term = self.try_filter()
        if term is not None:
            return term
        return self.parse_free_text()

    def try_paren_group(self) -> ParenGroup | None:
        start = self.pos
        self.pos += 1
        self.skip_spaces()
        if self.at_end():
            raise self.error(start)
        if self.query[self.pos] == ")":
            # `()` holds no term: it is free text
            self.pos = start
            return None
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise SessionsQueryError(QUERY_TOO_DEEP)
        try:
            children = self.parse_terms(in_group=True)
        except SessionsQueryError as exc:
            if self.at_end() and exc.message.startswith("Parse error"):
                # never closed: report the opening parenthesis
                raise self.error(start) from None
            raise
        self.depth -= 1
        self.pos += 1  # the closing parenthesis
        return ParenGroup(tuple(children), start)

    def try_filter(self) -> SearchTerm | None:
        start = self.pos
        query = self.query
        negated = query.startswith("!", self.pos)
        cursor = self.pos + 1 if negated else self.pos
        key_match = _KEY_RE.match(query, cursor) or _QUOTED_KEY_RE.match(query, cursor)
        if key_match is None:
            return None
        key = key_match.group(1) if key_match.re is _QUOTED_KEY_RE else key_match.group(0)
        cursor = key_match.end()
        if not query.startswith(":", cursor):
            return None
        cursor += 1
        if query.startswith("[", cursor):
            parsed_list = self.try_list(cursor)
            if parsed_list is not None:
                items, cursor = parsed_list
                self.pos = cursor
                return SearchTerm(
                    key=key,
                    operator="NOT IN" if negated else "IN",
                    value=tuple(items),
                    negated=negated,
                    written_operator="",
                    quoted=False,
                    position=start,
                )
        written = ""
        for operator in _OPERATORS:
            if query.startswith(operator, cursor):
                written = operator
                cursor += len(operator)
                break
        quoted_match = _QUOTED_VALUE_RE.match(query, cursor)
        if quoted_match is not None:
            value = quoted_match.group(1).replace('\\"', '"')
            quoted = True
            cursor = quoted_match.end()
        else:
            value_match = _VALUE_RE.match(query, cursor)
            assert value_match is not None  # the pattern matches the empty string
            value = value_match.group(0)
            quoted = False
            cursor = value_match.end()
        self.pos = cursor
        return SearchTerm(
            key=key,
            operator=effective_operator(written, negated),
            value=value,
            negated=negated,
            written_operator=written,
            quoted=quoted,
            position=start,
        )

    def try_list(self, cursor: int) -> tuple[list[str], int] | None:
        """`[a, "b", c]` starting at `cursor` (on the `[`); None when it is not a list."""
        query = self.query
        cursor += 1
        items: list[str] = []
        while True:
            while cursor < len(query) and query[cursor] in _SPACES:
                cursor += 1
            quoted = _QUOTED_VALUE_RE.match(query, cursor)
            plain = _IN_VALUE_RE.match(query, cursor)
            if quoted is not None:
                items.append(quoted.group(1).replace('\\"', '"'))
                cursor = quoted.end()
            elif plain is not None:
                items.append(plain.group(0))
                cursor = plain.end()
            elif items or query.startswith(",", cursor):
                if query.startswith((",", "]"), cursor):
                    raise SessionsQueryError(errors.LIST_EMPTY_VALUE)
                return None
            else:
                return None
            while cursor < len(query) and query[cursor] in _SPACES:
                cursor += 1
            if query.startswith(",", cursor):
                cursor += 1
                continue
            if query.startswith("]", cursor):
                cursor += 1
                if cursor == len(query) or query[cursor] in _SPACES + ")":
                    return items, cursor
            return None

    def parse_free_text(self) -> SearchTerm:
        start = self.pos
        quoted = _QUOTED_VALUE_RE.match(self.query, self.pos)
        if quoted is not None:
            self.pos = quoted.end()
            text = quoted.group(1).replace('\\"', '"')
        elif self.query.startswith("()", self.pos):
            self.pos += 2
            text = "()"
        else:
            word = _FREE_WORD_RE.match(self.query, self.pos)
            if word is None:
                raise self.error()
            self.pos = word.end()
            text = word.group(0)
        return SearchTerm(
            key=MESSAGE_KEY,
            operator="=",
            value=text,
            negated=False,
            written_operator="",
            quoted=quoted is not None,
            position=start,
        )


def _check_operators(tokens: Sequence[Token]) -> None:
    """Upstream's boolean sanity checks, applied to every level."""
    previous: Token | None = None
    for token in tokens:
        if isinstance(token, BooleanOperator):
            if previous is None:
                raise SessionsQueryError(
                    f"Condition is missing on the left side of '{token.operator}' operator"
                )
            if isinstance(previous, BooleanOperator):
                raise SessionsQueryError(
                    "Missing condition in between two condition operators: "
                    f"'{previous.operator} {token.operator}'"
                )
        elif isinstance(token, ParenGroup):
            _check_operators(token.children)
        previous = token
    if isinstance(previous, BooleanOperator):
        raise SessionsQueryError(f"Condition is missing on the right side of '{previous.operator}' operator")


def parse_query(query: str) -> list[Token]:
    """Parse a `query` parameter into top-level tokens; syntax errors and queries beyond
    the limits above raise."""
    if len(query) > MAX_QUERY_LENGTH:
        raise SessionsQueryError(QUERY_TOO_LONG)
    parser = _Parser(query)
    tokens = parser.parse_terms(in_group=False)
    _check_operators(tokens)
    return tokens


def iter_terms(tokens: Sequence[Token]) -> Iterator[SearchTerm]:
    """Every term in the order it appears in the query."""
    for token in tokens:
        if isinstance(token, SearchTerm):
            yield token
        elif isinstance(token, ParenGroup):
            yield from iter_terms(token.children)


def to_expression(tokens: Sequence[Token]) -> Expression | None:
    """The boolean tree of a token list: split on OR, AND the rest (None when empty)."""
    branches: list[list[Expression]] = [[]]
    for token in tokens:
        if isinstance(token, BooleanOperator):
            if token.operator == "OR":
                branches.append([])
            continue
        if isinstance(token, ParenGroup):
            inner = to_expression(token.children)
            if isinstance(inner, AndExpr):
                branches[-1].extend(inner.terms)
            elif inner is not None:
                branches[-1].append(inner)
        else:
            branches[-1].append(token)
    ands: list[Expression] = []
    for branch in branches:
        if len(branch) == 1:
            ands.append(branch[0])
        elif branch:
            ands.append(AndExpr(tuple(branch)))
    if not ands:
        return None
    if len(ands) == 1:
        return ands[0]
    return OrExpr(tuple(ands))
