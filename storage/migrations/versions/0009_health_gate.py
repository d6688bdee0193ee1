"""health_gate: release-health gates per project and environment (issue 10)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

One row per gate: the levels a release's crash-free and adoption percentages must reach
over a window, and the minimum volume below which no verdict is given
(`storage/gates.py`). At most one gate per project and environment (`env_key`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_gate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=256), nullable=True),
        sa.Column("env_key", sa.String(length=257), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=True),
        sa.Column("dimension_value", sa.String(length=256), nullable=True),
        sa.Column("time_window", sa.String(length=32), nullable=False),
        sa.Column("crash_free_sessions_target", sa.Float(), nullable=True),
        sa.Column("crash_free_sessions_critical", sa.Float(), nullable=True),
        sa.Column("crash_free_users_target", sa.Float(), nullable=True),
        sa.Column("crash_free_users_critical", sa.Float(), nullable=True),
        sa.Column("adoption_target", sa.Float(), nullable=True),
        sa.Column("adoption_critical", sa.Float(), nullable=True),
        sa.Column("min_sessions", sa.BigInteger(), nullable=False),
        sa.Column("min_users", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "env_key", name="uq_health_gate_project_env"),
    )
    op.create_index("ix_health_gate_org_id", "health_gate", ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_health_gate_org_id", table_name="health_gate")
    op.drop_table("health_gate")
