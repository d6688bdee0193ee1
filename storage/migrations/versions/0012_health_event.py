"""health_event: the log of alert transitions, gate verdict changes and adoption-stage
changes (issue 10)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Written in the transaction of each state change, beside its webhook outbox rows; read by
GraphQL subscriptions. See `storage/events.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key", name="uq_health_event_key"),
    )
    op.create_index("ix_health_event_org_id", "health_event", ["org_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_health_event_org_id", table_name="health_event")
    op.drop_table("health_event")
