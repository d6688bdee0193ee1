"""alerts: alert rules, their state per release and their incidents (issue 10)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11

`alert_rule` holds what a rule checks and how far the evaluator got; `alert_state` one
row per (rule, release) with its current level; `alert_incident` every incident with
the value at each transition (`storage/alerts.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("environment", sa.String(length=256), nullable=True),
        sa.Column("selector", sa.String(length=32), nullable=False),
        sa.Column("selector_argument", sa.String(length=256), nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("time_window", sa.String(length=32), nullable=False),
        sa.Column("warning", sa.Float(), nullable=True),
        sa.Column("critical", sa.Float(), nullable=True),
        sa.Column("warning_resolve", sa.Float(), nullable=True),
        sa.Column("critical_resolve", sa.Float(), nullable=True),
        sa.Column("min_sessions", sa.BigInteger(), nullable=False),
        sa.Column("min_users", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("evaluated_through", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_rule_org_id", "alert_rule", ["org_id"], unique=False)
    op.create_index("ix_alert_rule_project_id", "alert_rule", ["project_id"], unique=False)
    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=256), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("evaluated_through", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rule.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "release", name="uq_alert_state_rule_release"),
    )
    op.create_table(
        "alert_incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("release", sa.String(length=256), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open_value", sa.Float(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalate_value", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rule.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_incident_rule_id", "alert_incident", ["rule_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_alert_incident_rule_id", table_name="alert_incident")
    op.drop_table("alert_incident")
    op.drop_table("alert_state")
    op.drop_index("ix_alert_rule_project_id", table_name="alert_rule")
    op.drop_index("ix_alert_rule_org_id", table_name="alert_rule")
    op.drop_table("alert_rule")
