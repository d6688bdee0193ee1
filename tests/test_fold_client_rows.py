"""`client_rows` folds every client work item of a group in one pass: the rows, member
sets and duration bins must be exactly those of one fold per item with its minute rows
dropped (the previous definition, kept here as the oracle)."""

from __future__ import annotations

import random
from typing import Any

from storage.sql.dimensions import ClientWork, client_rows
from storage.sql.fold import FactRows, fact_rows
from storage.types import MINUTE, SessionIncrement, WriteBatch

NOW = 1_764_800_000


def _increments(rng: random.Random, n: int) -> list[SessionIncrement]:
    out = []
    for i in range(n):
        crashed = rng.random() < 0.2
        out.append(
            SessionIncrement(
                project_id=rng.choice([1, 2]),
                release=rng.choice(["a@1", "a@2"]),
                environment=rng.choice(["production", None]),
                # Minutes of three hours and two days, so every level folds something.
                started=NOW - rng.randrange(0, 2 * 86_400, 7),
                started_count=rng.choice([0, 1]),
                crashed=int(crashed),
                unhandled=int(crashed),
                error_sid=f"sid-{i}" if crashed or rng.random() < 0.3 else None,
                user=rng.choice([None, "u1", "u2", "u3", f"u{i}"]),
                user_tags=rng.choice([0, 1, 3]),
                duration=rng.choice([None, 0.0, 12.5, 3600.0]),
            )
        )
    return out


def _work(rng: random.Random) -> ClientWork:
    """Three client values, each with its own series ids for the same triples; two work
    items share a value (as two envelopes of one group commit do)."""
    triples = [(p, r, e) for p in (1, 2) for r in ("a@1", "a@2") for e in ("production", None)]
    ids_of = [{t: 100 * v + k for k, t in enumerate(triples)} for v in (1, 2, 3)]
    return [
        (ids_of[0], WriteBatch(increments=_increments(rng, 40))),
        (ids_of[1], WriteBatch(increments=_increments(rng, 25))),
        (ids_of[0], WriteBatch(increments=_increments(rng, 30))),
        (ids_of[2], WriteBatch(increments=[])),
    ]


def _per_item(work: ClientWork) -> FactRows:
    """The previous `client_rows`: one fold per work item, minute rows dropped."""
    rows = FactRows()
    for series_ids, batch in work:
        folded = fact_rows(batch, series_ids, sort=False)
        rows.counters.extend(r for r in folded.counters if r[0] != MINUTE)
        rows.outcomes.extend(folded.outcomes)
        for key, members in folded.sketches.items():
            if key[0] != MINUTE:
                rows.sketches.setdefault(key, set()).update(members)
        for key, bins in folded.durations.items():
            if key[0] != MINUTE:
                held = rows.durations.setdefault(key, {})
                for b, n in bins.items():
                    held[b] = held.get(b, 0) + n
    return rows


def _counters(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Any]]:
    """Counter rows summed by key (granularity, series, bucket): the upsert adds rows of
    one key, so rows split differently but summing equal store the same numbers."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for g, s, b, *values in rows:
        held = out.get((g, s, b))
        if held is None:
            out[(g, s, b)] = list(values)
            continue
        for i in range(6):
            held[i] += values[i]
        held[6] += values[6]
        held[7] = _extreme(min, held[7], values[7])
        held[8] = _extreme(max, held[8], values[8])
    return out


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    present = [x for x in (a, b) if x is not None]
    return pick(present) if present else None


def test_one_fold_equals_one_fold_per_item() -> None:
    for seed in range(5):
        work = _work(random.Random(seed))
        expected = _per_item(work)
        got = FactRows()
        client_rows(got, work, sort=True)
        assert got.counters == sorted(got.counters)
        assert all(r[0] != MINUTE for r in got.counters)
        assert _counters(got.counters) == _counters(expected.counters)
        # One fold leaves one row per key.
        assert len({r[:3] for r in got.counters}) == len(got.counters)
        assert got.sketches == expected.sketches
        assert got.durations == expected.durations
        assert got.outcomes == expected.outcomes == []


def test_rows_join_those_already_folded() -> None:
    work = _work(random.Random(7))
    base = FactRows()
    base.counters.append((3600, 1, NOW - NOW % 3600, 1, 0, 0, 0, 0, 0, 0.0, None, None))
    base.sketches[(3600, 1, NOW - NOW % 3600, 0)] = {"base-user"}
    client_rows(base, work, sort=False)
    assert base.counters[0][1] == 1  # the base row stays first, untouched
    assert base.sketches[(3600, 1, NOW - NOW % 3600, 0)] == {"base-user"}
    assert any(key[1] >= 100 for key in base.sketches)  # client series were added


def test_nothing_to_fold() -> None:
    rows = FactRows()
    client_rows(rows, [], sort=True)
    assert rows.counters == [] and rows.sketches == {} and rows.durations == {}
