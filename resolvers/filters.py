"""Store filters the release-health functions share (release-health.md section 5).

`environments`: None means no environment filter, a list means "environment IN list"; a
null environment never matches a named filter.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.types import And, Cond, Filter, GroupKey, ProjectRelease


def environment_filter(environments: Sequence[str] | None) -> Filter | None:
    return None if environments is None else Cond("environment", tuple(environments))


def pairs_filter(releases: Sequence[str], environments: Sequence[str] | None) -> Filter:
    """*release IN … [AND environment IN …]*; the caller passes the projects separately, so
    (as upstream) unasked cross combinations of project and release can match."""
    terms: list[Filter] = [Cond("release", tuple(sorted(set(releases))))]
    env = environment_filter(environments)
    if env is not None:
        terms.append(env)
    return And(tuple(terms))


def both(first: Filter | None, second: Filter | None) -> Filter | None:
    if first is None:
        return second
    if second is None:
        return first
    return And((first, second))


def pair_key(group: GroupKey) -> ProjectRelease:
    assert group.project_id is not None and group.release is not None
    return (group.project_id, group.release)
