"""Ordering of groups (release-health.md 8.11)."""

from __future__ import annotations

from resolvers.sessions.ordering import group_key_order, primary_field, sort_groups
from storage.types import GroupKey


def order(items: list[tuple[GroupKey, float | None]], descending: bool) -> list[GroupKey]:
    result = sort_groups(items, lambda item: item[1], lambda item: item[0], descending)
    return [key for key, _ in result]


def test_primary_field():
    assert primary_field(["crash_rate(session)", "sum(session)"]) == "sum(session)"
    assert primary_field(["crash_rate(session)", "count_unique(user)"]) == "crash_rate(session)"


def test_nulls_last_in_both_directions():
    a, b, c, d = (GroupKey(release=r) for r in "abcd")
    items = [(a, None), (b, 2.0), (c, 1.0), (d, None)]
    assert order(items, True) == [b, c, a, d]
    assert order(items, False) == [c, b, a, d]


def test_ties_by_group_key_ascending():
    keys = [
        GroupKey(project_id=2, release="a", environment="prod"),
        GroupKey(project_id=1, release="b", environment="prod"),
        GroupKey(project_id=1, release="a", environment="prod"),
        GroupKey(project_id=1, release="a", environment=None),
        GroupKey(project_id=1, release="a", environment=""),
    ]
    expected = [keys[3], keys[4], keys[2], keys[1], keys[0]]
    assert order([(k, 5) for k in keys], True) == expected
    assert order([(k, 5) for k in keys], False) == expected
    assert order([(k, None) for k in reversed(keys)], True) == expected


def test_value_then_ties():
    x, y, z = GroupKey(release="x"), GroupKey(release="y"), GroupKey(release="z")
    assert order([(z, 1), (y, 3), (x, 1)], True) == [y, x, z]
    assert order([(z, 1), (y, 3), (x, 1)], False) == [x, z, y]


def test_group_key_order_null_first():
    assert group_key_order(GroupKey(environment=None)) < group_key_order(GroupKey(environment=""))
