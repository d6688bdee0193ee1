"""dashboard_session: the dashboard's sign-in sessions (issue 11)

Revision ID: 0013
Revises: 0011 (the lead renumbers at merge: 0012 `health_event` comes first)
Create Date: 2026-12-12

One row per signed-in browser, keyed by the SHA-256 of its cookie value, with the
SHA-256 of its CSRF token (`storage/dashboard_sessions.py`). Deleting an API token
deletes its sessions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("csrf_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_dashboard_session_token_id", "dashboard_session", ["token_id"], unique=False)
    op.create_index("ix_dashboard_session_expires_at", "dashboard_session", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dashboard_session_expires_at", table_name="dashboard_session")
    op.drop_index("ix_dashboard_session_token_id", table_name="dashboard_session")
    op.drop_table("dashboard_session")
