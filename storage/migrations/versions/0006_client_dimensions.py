"""storage v2: client dimensions (sdk, os, browser) as series

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Creates the `dim_value` catalogue and adds `release_env.client` (0 = the base series, so
every existing series stays what it was); the unique key of a series gains `client`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dim_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("major", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "family", "name", "major", name="uq_dim_value"),
    )
    # batch mode: SQLite cannot alter a constraint in place (the table is copied).
    with op.batch_alter_table("release_env") as batch:
        batch.add_column(sa.Column("client", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_constraint("uq_release_env", type_="unique")
        batch.create_unique_constraint("uq_release_env", ["project_id", "release", "env_key", "client"])


def downgrade() -> None:
    # Client series go first: without `client` they would collide with their base series.
    for table in ("fact_counter", "fact_sketch"):
        op.execute(f"DELETE FROM {table} WHERE series_id IN (SELECT id FROM release_env WHERE client <> 0)")
    op.execute("DELETE FROM release_env WHERE client <> 0")
    with op.batch_alter_table("release_env") as batch:
        batch.drop_constraint("uq_release_env", type_="unique")
        batch.create_unique_constraint("uq_release_env", ["project_id", "release", "env_key"])
        batch.drop_column("client")
    op.drop_table("dim_value")
