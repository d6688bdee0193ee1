"""gate_verdict_state and adoption_stage_state: the last gate verdict and adoption stage
the change detector saw per release (issue 10 section 4)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14

`jobs/changes.py` compares each minute's verdicts and stages with these rows and publishes
`gate.verdict_changed` / `adoption.stage_changed` when they differ. See
`storage/changes.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gate_verdict_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=256), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["gate_id"], ["health_gate.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gate_id", "release", name="uq_gate_verdict_state_gate_release"),
    )
    op.create_table(
        "adoption_stage_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=256), nullable=False),
        sa.Column("release", sa.String(length=256), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "environment", "release", name="uq_adoption_stage_state_project_env_release"
        ),
    )


def downgrade() -> None:
    op.drop_table("adoption_stage_state")
    op.drop_table("gate_verdict_state")
