"""storage v2: distinct-count sets as sketches (`fact_sketch`)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Creates the table only; the data of `fact_user` and `fact_error` moves into it in the
next revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fact_sketch",
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("granularity", "series_id", "bucket", "kind"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("fact_sketch")
