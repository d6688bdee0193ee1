"""The `query` filter language (release-health.md 8.6)."""

from __future__ import annotations

import pytest

from resolvers.sessions import SessionsQueryError
from resolvers.sessions.filter_parser import (
    AndExpr,
    BooleanOperator,
    OrExpr,
    ParenGroup,
    SearchTerm,
    iter_terms,
    parse_query,
    to_expression,
)


def terms(query: str) -> list[tuple[str, str, object]]:
    return [(t.key, t.operator, t.value) for t in iter_terms(parse_query(query))]


def shape(query: str) -> object:
    def walk(expr: object) -> object:
        if isinstance(expr, SearchTerm):
            return f"{expr.key}:{expr.value}"
        if isinstance(expr, AndExpr):
            return ("AND", *(walk(t) for t in expr.terms))
        if isinstance(expr, OrExpr):
            return ("OR", *(walk(t) for t in expr.terms))
        return expr

    return walk(to_expression(parse_query(query)))


def test_empty_query():
    assert parse_query("") == []
    assert parse_query("   ") == []
    assert to_expression([]) is None


def test_key_value_forms():
    assert terms('release:foo@1.0 environment:"my env" !project:p1') == [
        ("release", "=", "foo@1.0"),
        ("environment", "=", "my env"),
        ("project", "!=", "p1"),
    ]


def test_quoted_value_with_escaped_quote_and_spaces():
    assert terms(r'release:"a \"b\" c"') == [("release", "=", 'a "b" c')]
    assert terms('release:""') == [("release", "=", "")]


def test_lists():
    assert terms('release:[a, "b c",d]') == [("release", "IN", ("a", "b c", "d"))]
    assert terms("!environment:[x,y]") == [("environment", "NOT IN", ("x", "y"))]


def test_list_with_empty_value():
    with pytest.raises(SessionsQueryError) as info:
        parse_query("release:[a, , b]")
    assert info.value.message == "Lists should not have empty values"


@pytest.mark.parametrize(
    ("text", "operator"),
    [(">", ">"), (">=", ">="), ("<", "<"), ("<=", "<="), ("=", "="), ("!=", "!=")],
)
def test_comparison_operators(text, operator):
    assert terms(f"release.version:{text}1.2") == [("release.version", operator, "1.2")]


@pytest.mark.parametrize(
    ("query", "operator"),
    [
        ("!release.build:>5", "<="),
        ("!release.build:>=5", "<"),
        ("!release.build:<5", ">="),
        ("!release.build:<=5", ">"),
        ("!release.build:5", "!="),
        ("!release.build:!=5", "!="),
    ],
)
def test_negated_operators_follow_upstream(query, operator):
    assert terms(query)[0][1] == operator


def test_free_text_is_message():
    assert terms("foo") == [("message", "=", "foo")]
    assert terms('"quoted text" release:a') == [("message", "=", "quoted text"), ("release", "=", "a")]
    assert terms("()")[0][0] == "message"


def test_quoted_key():
    assert terms('"release":foo') == [("release", "=", "foo")]


def test_juxtaposition_is_and():
    assert shape("a:1 b:2 c:3") == ("AND", "a:1", "b:2", "c:3")


def test_explicit_and_or_case_insensitive():
    assert shape("a:1 and b:2") == ("AND", "a:1", "b:2")
    assert shape("a:1 Or b:2") == ("OR", "a:1", "b:2")


def test_and_binds_tighter_than_or():
    assert shape("a:1 OR b:2 AND c:3") == ("OR", "a:1", ("AND", "b:2", "c:3"))
    assert shape("a:1 b:2 OR c:3") == ("OR", ("AND", "a:1", "b:2"), "c:3")


def test_parentheses():
    assert shape("(a:1 OR b:2) c:3") == ("AND", ("OR", "a:1", "b:2"), "c:3")
    assert shape("(a:1 b:2) c:3") == ("AND", "a:1", "b:2", "c:3")
    tokens = parse_query("(a:1 OR (b:2))")
    assert isinstance(tokens[0], ParenGroup)
    assert [t.key for t in iter_terms(tokens)] == ["a", "b"]


def test_value_stops_at_parenthesis():
    assert shape("(release:a OR release:b)") == ("OR", "release:a", "release:b")


def test_operator_words_inside_values_are_values():
    assert terms("release:OR") == [("release", "=", "OR")]
    assert terms("release:android") == [("release", "=", "android")]
    tokens = parse_query("a:1 ORx:2")
    assert not any(isinstance(t, BooleanOperator) for t in tokens)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("OR a:1", "Condition is missing on the left side of 'OR' operator"),
        ("a:1 AND", "Condition is missing on the right side of 'AND' operator"),
        ("a:1 AND OR b:2", "Missing condition in between two condition operators: 'AND OR'"),
        ("(a:1 OR) b:2", "Condition is missing on the right side of 'OR' operator"),
    ],
)
def test_boolean_structure_errors(query, message):
    with pytest.raises(SessionsQueryError) as info:
        parse_query(query)
    assert info.value.message == message


@pytest.mark.parametrize("query", ["(release:a", "release:a)", "((a:1)"])
def test_unbalanced_parentheses(query):
    with pytest.raises(SessionsQueryError) as info:
        parse_query(query)
    assert info.value.message.startswith("Parse error at ")
    assert info.value.message.endswith(
        "This is commonly caused by unmatched parentheses. Enclose any text in double quotes."
    )


def test_positions_follow_the_text():
    positions = [t.position for t in iter_terms(parse_query("a:1 (b:2 OR c:3) d:4"))]
    assert positions == sorted(positions)
