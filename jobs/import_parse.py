"""Parsing one run of bulk-import lines into what its transaction writes (pure; no I/O).

A run is a list of consecutive `(line number, line)`; parsing it gives the run's
increments, its ingest outcomes, the number of accepted lines and the rejected ones: all
that `jobs.importer` needs to commit the run as one import chunk. It runs in the
importing process, or in a worker process (`jobs.import_pool`): everything here
is picklable, and a parsed run travels in a compact form (plain tuples), which pickles and
unpickles several times faster than the increment objects themselves.

Projects are resolved from a snapshot of the organizations known so far (`OrgIndex`); a
run that names an organization not in it comes back as `MissingOrgs`, to be parsed again
once the importer has looked them up (the database lives in the importing process only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from ingest.records import ImportRecord, RejectedLine, parse_record, record_batch, rejection
from storage.sql.import_rows import FoldedRows, FoldSpec, fold_run
from storage.types import NO_DIMENSIONS, OutcomeIncrement, SessionIncrement, WriteBatch

#: Organization slug -> its projects by slug and by id (None: no such organization).
OrgIndex = Mapping[str, Mapping[str | int, int] | None]

_INCREMENT_FIELDS = tuple(f.name for f in dataclasses.fields(SessionIncrement))
_increment_tuple = attrgetter(*_INCREMENT_FIELDS)
# An increment without client dimensions travels without its last field, so that it is
# rebuilt with the importing process's own `NO_DIMENSIONS`: the writer tells such
# increments by identity (`storage.sql.dimensions`), and an unpickled copy is another object.
assert _INCREMENT_FIELDS[-1] == "dimensions"
_undimensioned_tuple = attrgetter(*_INCREMENT_FIELDS[:-1])


def _compact(inc: SessionIncrement) -> tuple[Any, ...]:
    if inc.dimensions is NO_DIMENSIONS:
        return tuple(_undimensioned_tuple(inc))
    return tuple(_increment_tuple(inc))


@dataclass(frozen=True, slots=True)
class MissingOrgs:
    """The run names organizations the snapshot does not know: look them up, parse again."""

    orgs: frozenset[str]


@dataclass(slots=True)
class ParsedRun:
    """What one run writes. `increments` are `SessionIncrement`s, or their field tuples
    (`compact`) on the way back from a worker; `outcomes` are folded by key, which
    changes nothing the fold would not (outcomes are summed per hour anyway). A run
    parsed with a `FoldSpec` carries its fact rows (`folded`) instead of both."""

    increments: list[Any] = field(default_factory=list)
    outcomes: list[OutcomeIncrement] = field(default_factory=list)
    accepted: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    compact: bool = False
    folded: FoldedRows | None = None

    def batch(self) -> WriteBatch:
        """The run as one write batch (increments in line order)."""
        if self.compact:
            return WriteBatch([SessionIncrement(*t) for t in self.increments], self.outcomes)
        return WriteBatch(self.increments, self.outcomes)


def resolve(record: ImportRecord, orgs: OrgIndex, only_org: str | None) -> int | str | None:
    """The record's project id, the rejection reason, or None if its org is not in `orgs`."""
    if only_org is not None and record.org != only_org:
        return "organization_mismatch"
    if record.org not in orgs:
        return None
    index = orgs[record.org]
    if index is None:
        return "unknown_organization"
    found = index.get(record.project)
    return found if found is not None else "unknown_project"


def line_batch(
    line: bytes | str, n: int, orgs: OrgIndex, only_org: str | None, received_at: float
) -> WriteBatch | RejectedLine | MissingOrgs | None:
    """One line's write batch (its outcomes say whether validation accepted it), its
    rejection, `MissingOrgs`, or None for a blank line."""
    parsed = parse_record(line, n)
    if parsed is None or isinstance(parsed, RejectedLine):
        return parsed
    target = resolve(parsed, orgs, only_org)
    if target is None:
        return MissingOrgs(frozenset((parsed.org,)))
    if isinstance(target, str):
        return RejectedLine(n, target, f"org {parsed.org!r}, project {parsed.project!r}")
    return record_batch(parsed, target, received_at)


def parse_run(
    lines: Sequence[tuple[int, bytes | str]],
    orgs: OrgIndex,
    only_org: str | None,
    received_at: float,
    *,
    compact: bool = False,
    fold: FoldSpec | None = None,
) -> ParsedRun | MissingOrgs:
    """Parse a run of lines (see the module docstring); with `fold`, into fact rows
    (`storage.sql.import_rows`)."""
    if fold is not None:
        compact = False  # folded here: the increments never travel
    run = ParsedRun(compact=compact)
    missing: set[str] = set()
    outcomes: dict[tuple[Any, ...], OutcomeIncrement] = {}
    increments = run.increments
    for n, line in lines:
        item = line_batch(line, n, orgs, only_org, received_at)
        if item is None:
            continue
        if isinstance(item, MissingOrgs):
            missing |= item.orgs
            continue
        if missing:
            continue  # the run is parsed again anyway: only look for more missing orgs
        if isinstance(item, RejectedLine):
            run.rejected.append(item)
            continue
        reason = rejection(item)
        if reason is not None:
            run.rejected.append(RejectedLine(n, reason))
        else:
            run.accepted += 1
        if compact:
            increments.extend(map(_compact, item.increments))
        else:
            increments.extend(item.increments)
        for o in item.outcomes:
            key = (o.project_id, o.item_type, o.kind, o.reason, o.received)
            into = outcomes.get(key)
            if into is None:
                outcomes[key] = dataclasses.replace(o)
            else:
                into.quantity += o.quantity
    if missing:
        return MissingOrgs(frozenset(missing))
    run.outcomes = list(outcomes.values())
    if fold is not None:
        run.folded = fold_run(WriteBatch(run.increments, run.outcomes), fold)
        run.increments, run.outcomes = [], []
    return run
