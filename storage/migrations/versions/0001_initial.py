"""initial schema: accounts, series, session facts, ingest outcomes, import chunks

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Mirrors storage/models.py as of this revision; tests/test_migrations.py checks that the
models and the migrations agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- accounts -------------------------------------------------------------------
    op.create_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "slug", name="uq_project_org_slug"),
    )
    op.create_index("ix_project_org_id", "project", ["org_id"], unique=False)
    op.create_table(
        "project_key",
        sa.Column("public_key", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("public_key"),
    )
    op.create_index("ix_project_key_project_id", "project_key", ["project_id"], unique=False)
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_token_org_id", "api_token", ["org_id"], unique=False)
    op.create_table(
        "environment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name", name="uq_environment_org_name"),
    )
    op.create_index("ix_environment_org_id", "environment", ["org_id"], unique=False)

    # -- series -----------------------------------------------------------------------
    op.create_table(
        "release_env",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(), nullable=False),
        sa.Column("environment", sa.String(), nullable=True),
        sa.Column("env_key", sa.String(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "release", "env_key", name="uq_release_env"),
    )
    op.create_index("ix_release_env_org_release", "release_env", ["org_id", "release"], unique=False)

    # -- session facts: keyed by (granularity, series, bucket start) -------------------
    # WITHOUT ROWID on SQLite: the rows live in their primary-key b-tree, so an upsert
    # touches one b-tree instead of two (about a third less work per row).
    op.create_table(
        "fact_counter",
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("crashed", sa.BigInteger(), nullable=False),
        sa.Column("abnormal", sa.BigInteger(), nullable=False),
        sa.Column("unhandled", sa.BigInteger(), nullable=False),
        sa.Column("errored_preaggr", sa.BigInteger(), nullable=False),
        sa.Column("dur_count", sa.BigInteger(), nullable=False),
        sa.Column("dur_sum", sa.Float(), nullable=False),
        sa.Column("dur_min", sa.Float(), nullable=True),
        sa.Column("dur_max", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("granularity", "series_id", "bucket"),
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

    # -- ingest outcomes and bulk imports ----------------------------------------------
    op.create_table(
        "ingest_outcome",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "hour", "item_type", "kind", "reason"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "import_chunk",
        sa.Column("import_id", sa.String(length=128), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "first_line"),
    )


def downgrade() -> None:
    op.drop_table("import_chunk")
    op.drop_table("ingest_outcome")
    op.drop_table("fact_duration")
    op.drop_table("fact_user")
    op.drop_table("fact_error")
    op.drop_table("fact_counter")
    op.drop_index("ix_release_env_org_release", table_name="release_env")
    op.drop_table("release_env")
    op.drop_index("ix_environment_org_id", table_name="environment")
    op.drop_table("environment")
    op.drop_index("ix_api_token_org_id", table_name="api_token")
    op.drop_table("api_token")
    op.drop_index("ix_project_key_project_id", table_name="project_key")
    op.drop_table("project_key")
    op.drop_index("ix_project_org_id", table_name="project")
    op.drop_table("project")
    op.drop_table("organization")
