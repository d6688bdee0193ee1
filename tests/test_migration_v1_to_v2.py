"""Upgrading a v1 store (sets as rows) to v2 (sets as sketches) keeps every answer.

The v1 database is the fixture `tests/fixtures/v1_store/store.json.gz`, made by the v1
code (see its `make.py`): its rows are loaded into a database migrated to revision 0003,
then `relhealth migrate` runs. The recorded answers (per-set and range-union counts
from `COUNT(DISTINCT ...)` on the v1 tables, and the v1 server's REST answers) must come
back from the sketches: exactly for sets of at most `distinct.EXACT_UP_TO` members,
within 3 % (about four standard errors) beyond.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from server.clock import FixedClock
from server.settings import Settings
from storage import distinct, upgrade
from storage.engine import StatementCounter, create_engine
from storage.schema import alembic_config, current_revision, head_revision, migrate
from storage.types import Kind
from tests.conftest import PG_ADMIN_URL, _require_postgres

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v1_store" / "store.json.gz"
V1_REVISION = "0003"
#: Relative tolerance of counts beyond the exact range: 3 % is 3.8 relative standard
#: errors of lg_k 14 (0.78 %), so a correct sketch misses it with probability < 1e-4.
TOLERANCE = 0.03

SetKey = tuple[int, int, int, int]  # granularity, series, bucket, kind


@pytest.fixture(scope="module")
def fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    return data


# -- databases -------------------------------------------------------------------------


def _pg_admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the test's backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'v1.db'}"
        return
    _require_postgres()
    name = f"relhealth_migrate_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _on(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def _committing(url: str, fn: Callable[[Connection], Any]) -> Any:
    """Like `_on`, on a connection that `fn` may commit (a transaction per page)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.run_sync(fn)
            await conn.commit()
            return result
    finally:
        await engine.dispose()


def _load(conn: Connection, tables: dict[str, dict[str, Any]]) -> None:
    """Insert the dumped rows into a database at the v1 revision."""
    command.upgrade(alembic_config(conn), V1_REVISION)
    meta = sa.MetaData()
    meta.reflect(conn)
    for table in meta.sorted_tables:
        dump = tables.get(table.name)
        if not dump or not dump["rows"]:
            continue
        dates = {c.name for c in table.columns if isinstance(c.type, sa.DateTime)}
        rows = [
            {
                col: datetime.fromisoformat(value) if col in dates and value is not None else value
                for col, value in zip(dump["columns"], row, strict=True)
            }
            for row in dump["rows"]
        ]
        conn.execute(table.insert(), rows)
        if conn.dialect.name == "postgresql" and "id" in table.columns:
            # Rows came with their ids: later inserts (tokens) must not reuse them.
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), MAX(id)) FROM {table.name}"
                )
            )


@pytest.fixture
def v1_url(empty_url: str, fixture: dict[str, Any]) -> str:
    """A database holding the v1 fixture at revision 0003."""
    asyncio.run(_on(empty_url, lambda conn: _load(conn, fixture["tables"])))
    return empty_url


# -- reading the results -----------------------------------------------------------------


def _sketches(conn: Connection) -> dict[SetKey, bytes]:
    """The distinct-count sketches (kinds of `Kind`; not packed duration bins)."""
    rows = conn.execute(
        sa.text("SELECT granularity, series_id, bucket, kind, sketch FROM fact_sketch WHERE kind <= :k"),
        {"k": max(Kind)},
    )
    return {(int(r[0]), int(r[1]), int(r[2]), int(r[3])): bytes(r[4]) for r in rows}


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _close_enough(got: distinct.Count, want: int) -> bool:
    """One sketch: exact up to EXACT_UP_TO members, an estimate beyond. A union of sketches
    may be exact beyond it too (when every input is): then it must be right."""
    if want <= distinct.EXACT_UP_TO or got.exact:
        return got.exact and got.value == want
    return abs(got.value - want) <= TOLERANCE * want


def _one_sketch(got: distinct.Count, want: int) -> bool:
    return got.exact == (want <= distinct.EXACT_UP_TO) and _close_enough(got, want)


def _check_counts(fixture: dict[str, Any], sketches: dict[SetKey, bytes]) -> int:
    """Every recorded set and range union against the sketches; the number of sets
    (single sketches) that are estimates."""
    recorded = {(g, s, b, k): n for g, s, b, k, n in fixture["per_key"]}
    assert set(sketches) == set(recorded)  # one sketch per non-empty v1 set, no other
    wrong = {
        key: (distinct.count_of(sketches[key]), n)
        for key, n in recorded.items()
        if not _one_sketch(distinct.count_of(sketches[key]), n)
    }
    assert wrong == {}
    for u in fixture["unions"]:
        union = distinct.Union()
        for (g, s, b, k), blob in sketches.items():
            if g == u["granularity"] and s in u["series"] and u["start"] <= b < u["end"] and k == u["kind"]:
                union.add(blob)
        assert _close_enough(union.count(), u["count"]), u
    return sum(1 for n in recorded.values() if n > distinct.EXACT_UP_TO)


# -- the migration ------------------------------------------------------------------------


def test_fixture_covers_what_the_migration_must_handle(fixture: dict[str, Any]) -> None:
    """The fixture holds every kind, every granularity and a set beyond the exact range."""
    kinds = {k for _g, _s, _b, k, _n in fixture["per_key"]}
    assert kinds == {int(k) for k in Kind}
    assert {g for g, *_ in fixture["per_key"]} == {60, 3600, 86400}
    big = [n for *_key, n in fixture["per_key"] if n > distinct.EXACT_UP_TO]
    # The big day: 20,000 users of the big release plus its other sessions of that day.
    assert len(big) == 1 and fixture["meta"]["big"]["users"] <= big[0] < 21_000
    assert len(fixture["tables"]["release_env"]["rows"]) == 10
    assert FIXTURE.stat().st_size < 1_000_000


async def test_migration_keeps_every_count(v1_url: str, fixture: dict[str, Any]) -> None:
    await migrate(v1_url)
    assert await _on(v1_url, _tables) >= {"fact_sketch", "fact_counter"}
    assert not await _on(v1_url, _tables) & {"fact_user", "fact_error", upgrade.PROGRESS_TABLE}
    engine = create_engine(v1_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
    # The big day's set is the one estimate.
    assert _check_counts(fixture, await _on(v1_url, _sketches)) == 1


async def test_sketches_written_by_v2_are_united_not_replaced(v1_url: str, fixture: dict[str, Any]) -> None:
    """A v2 writer that ran before the migration wrote sketches of the same sets: the
    converted members are added to them, members in both count once."""
    users = fixture["tables"]["fact_user"]
    cols = users["columns"]
    day = [dict(zip(cols, r, strict=True)) for r in users["rows"] if r[cols.index("granularity")] == 86400]
    g, s, b = day[0]["granularity"], day[0]["series_id"], day[0]["bucket"]
    v1_members = [r["did"] for r in day if (r["series_id"], r["bucket"]) == (s, b)]
    recorded = {(k[0], k[1], k[2], k[3]): k[4] for k in fixture["per_key"]}
    assert recorded[(g, s, b, int(Kind.USERS))] == len(v1_members) >= 3
    # Two members the v1 set has, and three it has not; and a bucket v1 has no set for.
    v2_members = [*v1_members[:2], "v2-a", "v2-b", "v2-c"]
    empty_bucket = b + 400 * 86400
    insert = sa.text("INSERT INTO fact_sketch VALUES (:g, :s, :b, :k, :sketch)")

    def write_v2(conn: Connection) -> None:
        conn.execute(
            insert, {"g": g, "s": s, "b": b, "k": int(Kind.USERS), "sketch": distinct.encode(v2_members)}
        )
        conn.execute(
            insert,
            {"g": g, "s": s, "b": empty_bucket, "k": int(Kind.USERS), "sketch": distinct.encode(["v2-d"])},
        )

    await _on(v1_url, write_v2)
    await migrate(v1_url)
    sketches = await _on(v1_url, _sketches)
    assert distinct.count_of(sketches.pop((g, s, b, int(Kind.USERS)))) == distinct.Count(len(v1_members) + 3)
    assert distinct.count_of(sketches.pop((g, s, empty_bucket, int(Kind.USERS)))) == distinct.Count(1)
    # Every other set is as recorded.
    fixture = {
        **fixture,
        "per_key": [k for k in fixture["per_key"] if tuple(k[:4]) != (g, s, b, int(Kind.USERS))],
    }
    fixture["unions"] = []
    _check_counts(fixture, sketches)


class Crash(RuntimeError):
    pass


def _crash_after(pages: int, *, commit: bool) -> Callable[[Connection], None]:
    """A checkpoint that commits each page when `commit`, and fails after `pages` pages."""
    done = 0

    def checkpoint(conn: Connection) -> None:
        nonlocal done
        if commit:
            conn.commit()
        done += 1
        if done == pages:
            raise Crash(f"injected after page {pages}")

    return checkpoint


async def test_crash_half_way_then_rerun(
    v1_url: str, fixture: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`relhealth migrate` dies after the first pages: the database is still the v1
    store (the revision is one transaction), and the next run gives every answer."""
    crash = _crash_after(3, commit=False)
    real = upgrade.convert_all
    monkeypatch.setattr(upgrade, "convert_all", lambda conn: real(conn, page_rows=5000, checkpoint=crash))
    with pytest.raises(Crash):
        await migrate(v1_url)
    monkeypatch.setattr(upgrade, "convert_all", real)
    tables = await _on(v1_url, _tables)
    assert {"fact_user", "fact_error"} <= tables
    n_users = await _on(v1_url, lambda c: c.execute(sa.text("SELECT COUNT(*) FROM fact_user")).scalar_one())
    assert n_users == len(fixture["tables"]["fact_user"]["rows"])
    engine = create_engine(v1_url)
    try:
        assert await current_revision(engine) == V1_REVISION
    finally:
        await engine.dispose()
    await migrate(v1_url)
    assert _check_counts(fixture, await _on(v1_url, _sketches)) == 1


async def test_committed_pages_are_not_redone_nor_double_counted(
    v1_url: str, fixture: dict[str, Any]
) -> None:
    """With a commit per page (a caller that wants progress to survive a crash), a run
    that dies resumes after the last converted bucket and the answers are the same."""
    n_users = len(fixture["tables"]["fact_user"]["rows"])
    n_errors = len(fixture["tables"]["fact_error"]["rows"])
    page = 5000

    def first(conn: Connection) -> None:
        upgrade.convert_all(conn, page_rows=page, checkpoint=_crash_after(4, commit=True))

    with pytest.raises(Crash):
        await _committing(v1_url, first)
    second = await _committing(
        v1_url, lambda c: upgrade.convert_all(c, page_rows=page, checkpoint=lambda c: c.commit())
    )
    resumed = second.resumed_after["fact_user"]
    assert resumed is not None
    # Four pages were kept, less the bucket still open at the end of the fourth: the
    # first pages hold minute buckets (a few dozen users each), so a small one.
    n_durations = len(fixture["tables"]["fact_duration"]["rows"]) if upgrade.DURATIONS else 0
    assert 4 * page - 1000 < n_users + n_errors + n_durations - second.rows <= 4 * page
    assert second.resumed_after["fact_error"] is None
    assert _check_counts(fixture, await _on(v1_url, _sketches)) == 1
    # A third run finds nothing left and changes nothing.
    before = await _on(v1_url, _sketches)
    third = await _on(v1_url, lambda c: upgrade.convert_all(c, page_rows=page))
    assert (third.rows, third.sketches) == (0, 0)
    assert await _on(v1_url, _sketches) == before


async def test_statements_per_page_are_flat(v1_url: str, fixture: dict[str, Any]) -> None:
    """Memory and statements are bounded per page: one SELECT of source rows, one of the
    stored sketches, one executemany upsert and one progress row, whatever the page holds."""
    n_users = len(fixture["tables"]["fact_user"]["rows"])
    n_errors = len(fixture["tables"]["fact_error"]["rows"])
    page = 4000
    engine = create_engine(v1_url)
    counter = StatementCounter(engine)
    try:
        async with engine.begin() as conn:
            stats = await conn.run_sync(lambda c: upgrade.convert_all(c, page_rows=page))
    finally:
        counter.close()
        await engine.dispose()
    # Full pages, then the last partial one (there is one: no count divides by 4000).
    sizes = [n_users, n_errors]
    if upgrade.DURATIONS is not None:
        sizes.append(len(fixture["tables"]["fact_duration"]["rows"]))
    pages = sum(n // page + 1 for n in sizes)
    assert all(n % page for n in sizes)
    assert stats.pages == pages and stats.rows == sum(sizes)
    sources = tuple(f"FROM {source.table}" for source in upgrade.SOURCES)
    reads = [s for s in counter.statements if any(source in s for source in sources)]
    upserts = [s for s in counter.statements if s.startswith("INSERT INTO fact_sketch")]
    assert len(reads) == pages
    # A page inside one bucket (the big day's 20,013 users) writes nothing yet.
    assert 0 < len(upserts) <= pages
    # Plus the progress table's creation and two progress reads (a few statements).
    assert len(counter.statements) <= 4 * pages + 6
    duration_buckets = {tuple(r[:3]) for r in fixture["tables"]["fact_duration"]["rows"]}
    converted = len(fixture["per_key"]) + (len(duration_buckets) if upgrade.DURATIONS else 0)
    assert stats.sketches == converted > 100 * len(counter.statements)


async def test_downgrade_recreates_empty_v1_tables(v1_url: str, fixture: dict[str, Any]) -> None:
    await migrate(v1_url)
    await _on(v1_url, lambda conn: command.downgrade(alembic_config(conn), V1_REVISION))

    def look(conn: Connection) -> tuple[int, int, int]:
        def n(t: str) -> int:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())

        return n("fact_user"), n("fact_error"), n("fact_sketch")

    users, errors, sketches = await _on(v1_url, look)
    assert (users, errors) == (0, 0)
    assert sketches > 0  # sketches cannot be expanded back into rows: they stay
    durations = await _on(v1_url, lambda c: c.execute(sa.text("SELECT COUNT(*) FROM fact_duration")).scalar())
    # Packed duration bins are not unpacked either; without them fact_duration is kept.
    assert durations == (0 if upgrade.DURATIONS else len(fixture["tables"]["fact_duration"]["rows"]))


@pytest.mark.skipif(upgrade.DURATIONS is None, reason="durations are still stored in fact_duration")
async def test_duration_bins_are_packed_per_bucket(v1_url: str, fixture: dict[str, Any]) -> None:
    """Each bucket's fact_duration rows become one blob of the same bins and counts; a
    blob a v2 writer stored for a bucket gets the converted counts added."""
    from storage.sql import durations  # type: ignore[attr-defined,unused-ignore]

    rows = fixture["tables"]["fact_duration"]
    cols = rows["columns"]
    want: dict[tuple[int, int, int], dict[int, int]] = {}
    for r in rows["rows"]:
        d = dict(zip(cols, r, strict=True))
        want.setdefault((d["granularity"], d["series_id"], d["bucket"]), {})[d["bin"]] = d["count"]
    g, s, b = next(iter(want))
    written = {7: 2, 9999: 1}  # bins of sessions a v2 writer stored before the migration

    def write_v2(conn: Connection) -> None:
        conn.execute(
            sa.text("INSERT INTO fact_sketch VALUES (:g, :s, :b, :k, :blob)"),
            {"g": g, "s": s, "b": b, "k": durations.DURATION_BINS, "blob": durations.encode(written)},
        )

    await _on(v1_url, write_v2)
    await migrate(v1_url)
    assert "fact_duration" not in await _on(v1_url, _tables)
    got = await _on(
        v1_url,
        lambda c: {
            (int(r[0]), int(r[1]), int(r[2])): durations.decode(bytes(r[3]))
            for r in c.execute(
                sa.text("SELECT granularity, series_id, bucket, sketch FROM fact_sketch WHERE kind = :k"),
                {"k": durations.DURATION_BINS},
            )
        },
    )
    first = want[(g, s, b)]
    want[(g, s, b)] = {k: first.get(k, 0) + written.get(k, 0) for k in first.keys() | written.keys()}
    assert got == want


# -- the server's answers ---------------------------------------------------------------------


def _same_answer(got: Any, want: Any, approximate: bool) -> bool:
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(_same_answer(got[k], want[k], approximate) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_same_answer(g, w, approximate) for g, w in zip(got, want, strict=True))
        )
    if approximate and isinstance(want, float) and isinstance(got, float):
        # crash_free_rate(user) = 1 - crashed / users: only the users estimate moves.
        return abs(got - want) <= TOLERANCE * (1 - want) + 1e-12
    if approximate and isinstance(want, int) and want > distinct.EXACT_UP_TO and isinstance(got, int):
        return abs(got - want) <= TOLERANCE * want
    return bool(got == want)


async def _check_rest(app: Any, fixture: dict[str, Any]) -> None:
    tokens = {org: await app.services.accounts.create_token(org, ["org:read"]) for org in ("acme", "globex")}
    for recorded in fixture["rest"]:
        r = await app.client.get(
            f"/api/0/organizations/{recorded['org']}/sessions/?{recorded['query']}",
            headers={"Authorization": f"Bearer {tokens[recorded['org']]}"},
        )
        assert r.status_code == 200, r.text
        want, got = recorded["answer"], r.json()
        assert got.keys() >= want.keys()
        assert [g["by"] for g in got["groups"]] == [g["by"] for g in want["groups"]]
        for got_group, want_group in zip(got["groups"], want["groups"], strict=True):
            # Groups whose users exceed the exact range (release web@2.0.0 over its big
            # day) may be estimates; every other number is exact.
            big = max(want_group["totals"].get("count_unique(user)") or 0, 0) > distinct.EXACT_UP_TO
            assert _same_answer(got_group, want_group, big), (recorded["query"], got_group, want_group)
        assert got["intervals"] == want["intervals"]


async def test_server_answers_after_migration(v1_url: str, fixture: dict[str, Any], make_app: Any) -> None:
    await migrate(v1_url)
    now = datetime.fromisoformat(fixture["meta"]["now"].replace("Z", "+00:00")).timestamp()
    app = await make_app(Settings(database_url=v1_url), FixedClock(now))
    await _check_rest(app, fixture)


# -- paging edge cases, by hand ---------------------------------------------------------------

#: Three buckets of 1, 4 and 2 user rows and two error rows: (granularity, series,
#: bucket, did, tags). Tags: 1 seen, 2 errored, 4 crashed, 8 abnormal, 32 ANR foreground.
HAND_USERS = [
    (60, 1, 0, "a", 1),
    (3600, 1, 0, "b1", 1),
    (3600, 1, 0, "b2", 1 | 2 | 4),
    (3600, 1, 0, "b3", 1 | 2),
    (3600, 1, 0, "b4", 1),
    (3600, 2, 0, "c1", 1 | 2 | 8 | 32),
    (3600, 2, 0, "c2", 1),
]
HAND_ERRORS = [(3600, 1, 0, "s1"), (3600, 1, 0, "s2")]
#: Worked out from the tags above (release-health.md 3.3: a kind counts the users
#: with its tag; ANR counts foreground or background).
HAND_COUNTS = {
    (60, 1, 0, Kind.USERS): 1,
    (3600, 1, 0, Kind.USERS): 4,
    (3600, 1, 0, Kind.ERRORED_USERS): 2,
    (3600, 1, 0, Kind.CRASHED_USERS): 1,
    (3600, 2, 0, Kind.USERS): 2,
    (3600, 2, 0, Kind.ERRORED_USERS): 1,
    (3600, 2, 0, Kind.ABNORMAL_USERS): 1,
    (3600, 2, 0, Kind.ANR_USERS): 1,
    (3600, 2, 0, Kind.ANR_FOREGROUND_USERS): 1,
    (3600, 1, 0, Kind.ERROR_SESSIONS): 2,
}


HAND_SOURCES = (upgrade.USERS, upgrade.ERRORS)


def _hand_store(users: list[tuple[Any, ...]], errors: list[tuple[Any, ...]]) -> sa.Engine:
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE fact_user (granularity INTEGER, series_id INTEGER, bucket BIGINT,"
                " did VARCHAR, tags INTEGER, PRIMARY KEY (granularity, series_id, bucket, did))"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE fact_error (granularity INTEGER, series_id INTEGER, bucket BIGINT,"
                " sid VARCHAR(36), PRIMARY KEY (granularity, series_id, bucket, sid))"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TABLE fact_sketch (granularity INTEGER, series_id INTEGER, bucket BIGINT,"
                " kind SMALLINT, sketch BLOB, PRIMARY KEY (granularity, series_id, bucket, kind))"
            )
        )
        for row in users:
            conn.execute(
                sa.text("INSERT INTO fact_user VALUES (:g, :s, :b, :d, :t)"),
                dict(zip("gsbdt", row, strict=True)),
            )
        for row in errors:
            conn.execute(
                sa.text("INSERT INTO fact_error VALUES (:g, :s, :b, :d)"), dict(zip("gsbd", row, strict=True))
            )
    return engine


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5, 7, 8, 100])
def test_every_page_size_gives_the_same_sets(page: int) -> None:
    """Pages ending inside a bucket, on a bucket's end, and one page for everything."""
    engine = _hand_store(HAND_USERS, HAND_ERRORS)
    with engine.begin() as conn:
        stats = upgrade.convert_all(conn, page_rows=page, sources=HAND_SOURCES)
        counts = {
            (g, s, b, Kind(k)): distinct.count_of(blob) for (g, s, b, k), blob in _sketches(conn).items()
        }
    assert counts == {key: distinct.Count(n) for key, n in HAND_COUNTS.items()}
    # Each source is read in full pages plus one shorter (maybe empty) page.
    assert stats.pages == (7 // page + 1) + (2 // page + 1)
    assert (stats.rows, stats.buckets, stats.sketches) == (9, 4, 10)


def test_empty_v1_tables_convert_to_nothing() -> None:
    engine = _hand_store([], [])
    with engine.begin() as conn:
        stats = upgrade.convert_all(conn, page_rows=3, sources=HAND_SOURCES)
        assert _sketches(conn) == {}
    assert (stats.pages, stats.rows, stats.sketches) == (2, 0, 0)
