"""alerts: late data, dimension filters and adoption-stage rules (issue 10 section 3)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-20

`alert_rule.dimension` / `dimension_value`: the client-dimension value a rule's numbers
are narrowed to (as `health_gate` has); `stage` / `stage_level`: the adoption stage an
ADOPTION_STAGE rule watches and its level while the release is in it. See
`storage/alerts.py`. `alert_transition`: every transition, live or found late (the
history a late-data replay starts from); `alert_dirty`: the (project, hour) pairs ingest
marked late; `alert_incident.late` (`storage/alert_history.py`, `jobs/alert_replay.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=256), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("before_level", sa.String(length=32), nullable=False),
        sa.Column("after_level", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rule.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "release", "at", "after_level", name="uq_alert_transition"),
    )
    op.create_index("ix_alert_transition_rule_id", "alert_transition", ["rule_id", "id"], unique=False)
    op.create_table(
        "alert_dirty",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "hour"),
    )
    with op.batch_alter_table("alert_incident") as batch:
        batch.add_column(sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("alert_rule") as batch:
        batch.add_column(sa.Column("dimension", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dimension_value", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("stage_level", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_incident") as batch:
        batch.drop_column("late")
    op.drop_table("alert_dirty")
    op.drop_index("ix_alert_transition_rule_id", table_name="alert_transition")
    op.drop_table("alert_transition")
    with op.batch_alter_table("alert_rule") as batch:
        batch.drop_column("stage_level")
        batch.drop_column("stage")
        batch.drop_column("dimension_value")
        batch.drop_column("dimension")
