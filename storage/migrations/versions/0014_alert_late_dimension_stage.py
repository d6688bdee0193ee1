"""alerts: dimension filters and adoption-stage rules (issue 10 section 3)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-20

`alert_rule.dimension` / `dimension_value`: the client-dimension value a rule's numbers
are narrowed to (as `health_gate` has); `stage` / `stage_level`: the adoption stage an
ADOPTION_STAGE rule watches and its level while the release is in it. See
`storage/alerts.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert_rule") as batch:
        batch.add_column(sa.Column("dimension", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dimension_value", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("stage", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("stage_level", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_rule") as batch:
        batch.drop_column("stage_level")
        batch.drop_column("stage")
        batch.drop_column("dimension_value")
        batch.drop_column("dimension")
