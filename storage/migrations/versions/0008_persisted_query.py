"""persisted_query: the allowlist of registered GraphQL operations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

One row per registered document (`relhealth persisted-queries add`), keyed by the
SHA-256 of its exact text; read by /graphql in allowlist mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "persisted_query",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("operation_name", sa.String(length=256), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_index("ix_persisted_query_operation_name", "persisted_query", ["operation_name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_persisted_query_operation_name", table_name="persisted_query")
    op.drop_table("persisted_query")
