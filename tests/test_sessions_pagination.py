"""Cursors and the Link header (release-health.md 8.12)."""

from __future__ import annotations

import pytest

from resolvers.sessions import Cursor, SessionsQueryError, link_header, page_cursors
from resolvers.sessions.pagination import parse_cursor, parse_per_page

URL = "http://localhost/api/0/organizations/acme/sessions/?field=sum(session)&per_page=1"


def test_parse_cursor():
    assert parse_cursor(None) is None
    assert parse_cursor("0:5:1") == Cursor(0, 5, True)
    assert parse_cursor("1.5:0:0") == Cursor(1.5, 0, False)
    for bad in ("", "x", "0:0", "0:x:0", "0:0:y", "a:0:0", "0:-5:0"):
        with pytest.raises(SessionsQueryError) as info:
            parse_cursor(bad)
        assert info.value.message == "Invalid cursor parameter."


def test_parse_per_page():
    assert parse_per_page(None) is None
    assert parse_per_page("5000") == 5000
    assert parse_per_page("1") == 1


def test_cursor_text():
    assert str(Cursor(0, 10, False)) == "0:10:0"
    assert str(Cursor(0, 0, True)) == "0:0:1"


def test_page_cursors():
    previous, following = page_cursors(0, 1, True)
    assert (str(previous), previous.has_results) == ("0:0:1", False)
    assert (str(following), following.has_results) == ("0:1:0", True)
    previous, following = page_cursors(3, 2, False)
    assert (str(previous), previous.has_results) == ("0:1:1", True)
    assert (str(following), following.has_results) == ("0:5:0", False)
    previous, _ = page_cursors(1, 5, False)
    assert str(previous) == "0:0:1"


def test_link_header_first_page():
    previous, following = page_cursors(0, 1, True)
    assert link_header(URL, previous, following) == (
        f'<{URL}&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        f'<{URL}&cursor=0:1:0>; rel="next"; results="true"; cursor="0:1:0"'
    )


def test_link_header_replaces_the_cursor():
    url = "http://h/s/?cursor=0:1:0&field=sum(session)&cursor=0:9:0"
    previous, following = page_cursors(1, 1, False)
    header = link_header(url, previous, following)
    assert header == (
        '<http://h/s/?field=sum(session)&cursor=0:0:1>; rel="previous"; results="true"; '
        'cursor="0:0:1", <http://h/s/?field=sum(session)&cursor=0:2:0>; rel="next"; '
        'results="false"; cursor="0:2:0"'
    )


def test_link_header_without_query_string():
    previous, following = page_cursors(0, 5000, False)
    assert link_header("http://h/s/", previous, following).startswith(
        '<http://h/s/?cursor=0:0:1>; rel="previous"; results="false"'
    )
