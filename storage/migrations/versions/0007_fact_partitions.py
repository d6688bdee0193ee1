"""storage v2: PostgreSQL time partitions of fact_counter and fact_sketch

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

PostgreSQL only (SQLite keeps plain tables and batched deletes): each fact table becomes
`PARTITION BY LIST (granularity)`, each granularity `PARTITION BY RANGE (bucket)` with a
DEFAULT partition, partitions in the schema `relhealth_partitions` (the layout of
`storage.sql.partitions`, written out here as of this revision). The rows move into
windows made for every window that holds data; the cleanup makes later ones. Columns,
types, defaults and primary keys are unchanged, so the application sees the same tables.
These are storage v2's only fact tables: 0004 moved sets and duration bins into
fact_sketch and dropped fact_user, fact_error and fact_duration.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "relhealth_partitions"
#: table -> primary key columns.
TABLES = {
    "fact_counter": ("granularity", "series_id", "bucket"),
    "fact_sketch": ("granularity", "series_id", "bucket", "kind"),
}
#: Seconds of buckets per partition, by granularity (minute, hour, day).
SPANS = {60: 86400, 3600: 7 * 86400, 86400: 90 * 86400}


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    bind = op.get_bind()
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for table, key in TABLES.items():
        old = f"{table}_v1"
        op.execute(f"ALTER TABLE {table} RENAME TO {old}")
        op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {table}_pkey TO {old}_pkey")
        op.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY LIST (granularity)")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(key)})")
        for g, span in SPANS.items():
            parent = f"{SCHEMA}.{table}_g{g}"
            op.execute(
                f"CREATE TABLE {parent} PARTITION OF {table} FOR VALUES IN ({g}) PARTITION BY RANGE (bucket)"
            )
            op.execute(f"CREATE TABLE {parent}_default PARTITION OF {parent} DEFAULT")
            windows = bind.exec_driver_sql(
                f"SELECT DISTINCT bucket - bucket % {span} FROM {old} WHERE granularity = {g}"
            ).fetchall()
            for (lo,) in windows:
                op.execute(
                    f"CREATE TABLE {parent}_{lo} PARTITION OF {parent} FOR VALUES FROM ({lo}) TO ({lo + span})"
                )
        op.execute(f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {table} DEFAULT")
        op.execute(f"INSERT INTO {table} SELECT * FROM {old}")
        op.execute(f"DROP TABLE {old}")


def downgrade() -> None:
    if not _postgres():
        return
    for table, key in TABLES.items():
        plain = f"{table}_plain"
        op.execute(f"CREATE TABLE {plain} (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {plain} SELECT * FROM {table}")
        op.execute(f"DROP TABLE {table} CASCADE")
        op.execute(f"ALTER TABLE {plain} RENAME TO {table}")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({', '.join(key)})")
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
