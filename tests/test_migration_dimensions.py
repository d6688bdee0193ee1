"""Migration 0006 (client dimensions) keeps every existing series as a base series."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.schema import alembic_config
from storage.store import SessionStore
from storage.types import (
    HOUR,
    AggregateQuery,
    ClientDimensions,
    GroupKey,
    Quantity,
    SessionIncrement,
    WriteBatch,
)
from tests.test_migrations import FreshUrl, _on, fresh_url  # noqa: F401  (the fixture)

AT = 1_610_618_400  # 2021-01-14T10:00:00Z


def _v1_data(conn: Connection) -> None:
    command.upgrade(alembic_config(conn), "0003")
    conn.execute(text("INSERT INTO organization (id, slug, created_at) VALUES (1, 'acme', '2021-01-01')"))
    conn.execute(
        text("INSERT INTO project (id, org_id, slug, created_at) VALUES (1, 1, 'web', '2021-01-01')")
    )
    conn.execute(
        text(
            "INSERT INTO release_env (id, org_id, project_id, release, environment, env_key, first_seen)"
            " VALUES (1, 1, 1, 'r1', 'production', '=production', :at)"
        ),
        {"at": AT},
    )
    conn.execute(
        text(
            "INSERT INTO fact_counter (granularity, series_id, bucket, started, crashed, abnormal, unhandled,"
            " errored_preaggr, dur_count, dur_sum) VALUES (3600, 1, :at, 5, 1, 0, 0, 0, 0, 0)"
        ),
        {"at": AT},
    )


def _upgrade(conn: Connection) -> list[Any]:
    command.upgrade(alembic_config(conn), "head")
    return [tuple(r) for r in conn.execute(text("SELECT id, release, client FROM release_env"))]


async def test_existing_series_become_base_series(fresh_url: FreshUrl) -> None:  # noqa: F811
    url = fresh_url()
    await _on(url, _v1_data)
    assert await _on(url, _upgrade) == [(1, "r1", 0)]
    engine = create_engine(url)
    try:
        store = SessionStore(engine)
        ios = ClientDimensions("sentry.cocoa", "iOS", "iOS 17")
        await store.apply([WriteBatch([SessionIncrement(1, "r1", "production", AT + 5, 2, dimensions=ios)])])
        q = AggregateQuery((1,), AT, AT + HOUR, HOUR, frozenset({Quantity.COUNTERS}), group_by=("release",))
        # 5 sessions from before the upgrade plus 2 new ones, in the one base series.
        assert (await store.aggregate(q)).totals[GroupKey(release="r1")].counters.started == 7
        by_os = await store.aggregate(
            AggregateQuery((1,), AT, AT + HOUR, HOUR, q.quantities, group_by=("os_name",))
        )
        assert {k.os_name: a.counters.started for k, a in by_os.totals.items()} == {"iOS": 2}
    finally:
        await engine.dispose()

    def downgrade(conn: Connection) -> list[Any]:
        command.downgrade(alembic_config(conn), "0003")
        return [
            tuple(r)
            for r in conn.execute(text("SELECT granularity, series_id, bucket, started FROM fact_counter"))
        ]

    # Down again: the client series and their facts go, the base series stays whole.
    assert sorted(await _on(url, downgrade)) == [
        (60, 1, AT, 2),
        (3600, 1, AT, 7),
        (86400, 1, AT - AT % 86400, 2),
    ]
