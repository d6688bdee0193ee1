"""storage v2: move the user and error sets and the duration bins into `fact_sketch`; drop
`fact_user`, `fact_error` and `fact_duration`

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Every v1 set row becomes a member of the sketch of its (granularity, series, bucket, kind)
in `fact_sketch` (`storage.upgrade`: user rows join every kind their tags give, error rows
`ERROR_SESSIONS`), united with any sketch already stored there. The tables are read in
pages in key order, so memory stays bounded whatever their size. Counts stay exact where
a set has at most `storage.distinct.EXACT_UP_TO` (16,384) members and become estimates
(relative standard error 0.78 %) above that.

Durations: a bucket's `fact_duration` rows (one per bin) are packed into one `fact_sketch`
row of kind 8 (`storage.sql.durations`), their counts added to any stored blob;
downgrade recreates `fact_duration` empty.

Interrupted runs: under `relhealth migrate` the whole revision is one transaction on
PostgreSQL, so a crash leaves the v1 tables as they were. On any dialect a re-run is safe:
progress is recorded per page in the same transaction as the page's blobs, and a re-run
starts after the last bucket recorded, so no bucket is converted twice (which duration
counts, which add up, rely on; a sketch union would not count a member twice anyway).
The v1 tables are dropped only after every row was converted.

Space: PostgreSQL returns the dropped tables' files at once; a SQLite file keeps its size
(the pages become free and are reused by later writes) until `VACUUM`, which cannot run
inside the migration's transaction: run `sqlite3 relhealth.db VACUUM` afterwards to shrink
the file. The revision moves data, so it cannot be rendered as SQL (`alembic --sql`).

Downgrade recreates the empty v1 tables and leaves `fact_sketch` as it is: a sketch keeps
hashes, not the ids, so the sets cannot be expanded back into rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from storage import upgrade as sets_to_sketches

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("revision 0004 converts stored rows: it cannot run in offline (--sql) mode")
    stats = sets_to_sketches.convert_all(op.get_bind())
    log.info(
        "0004: %d set rows in %d pages -> %d sketches of %d buckets (%d united with stored ones)",
        stats.rows,
        stats.pages,
        stats.sketches,
        stats.buckets,
        stats.merged,
    )
    for source in sets_to_sketches.SOURCES:
        op.drop_table(source.table)
    sets_to_sketches.drop_progress_table(op.get_bind())


def downgrade() -> None:
    # As revision 0001 created them; empty (see the module docstring).
    if "fact_duration" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "fact_duration",
            sa.Column("granularity", sa.Integer(), nullable=False),
            sa.Column("series_id", sa.Integer(), nullable=False),
            sa.Column("bucket", sa.BigInteger(), nullable=False),
            sa.Column("bin", sa.Integer(), nullable=False),
            sa.Column("count", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("granularity", "series_id", "bucket", "bin"),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "fact_error",
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("sid", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("granularity", "series_id", "bucket", "sid"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "fact_user",
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("did", sa.String(), nullable=False),
        sa.Column("tags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("granularity", "series_id", "bucket", "did"),
        sqlite_with_rowid=False,
    )
