"""import ids belong to a scope: the importing organization, or 0 for the command line

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

`import_chunk` gains `org_id` at the head of its primary key. Existing rows do not record
who made them, so they are attributed as follows (README "Importing history"):

- every row goes to scope 0, the command line's, so re-running a command-line import
  still skips what it applied;
- when the database holds exactly one organization, every row is also copied to that
  organization's scope: the only organization that can have imported through the API,
  so re-sending an API import still skips what it applied. With several organizations an
  API import cannot be told apart, and re-sending one after the upgrade applies it again.

The table is small (one row per chunk of 10,000 lines), so it is rebuilt: rows are read,
the table is dropped and created as the models create it, and the rows inserted again.
Downgrading merges the scopes (one row per import id and first line).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: `storage.models.SERVER_IMPORT_SCOPE` (a revision never imports the models).
_SERVER_SCOPE = 0


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT import_id, first_line, last_line FROM import_chunk")).all()
    orgs = [row[0] for row in conn.execute(sa.text("SELECT id FROM organization")).all()]
    scopes = [_SERVER_SCOPE, *orgs] if len(orgs) == 1 else [_SERVER_SCOPE]
    op.drop_table("import_chunk")
    table = op.create_table(
        "import_chunk",
        sa.Column("org_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("import_id", sa.String(length=128), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "import_id", "first_line"),
    )
    if rows:
        op.bulk_insert(
            table,
            [
                {"org_id": scope, "import_id": i, "first_line": f, "last_line": last}
                for scope in scopes
                for i, f, last in rows
            ],
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT import_id, first_line, MAX(last_line) FROM import_chunk"
            " GROUP BY import_id, first_line"
        )
    ).all()
    op.drop_table("import_chunk")
    table = op.create_table(
        "import_chunk",
        sa.Column("import_id", sa.String(length=128), nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "first_line"),
    )
    if rows:
        op.bulk_insert(
            table, [{"import_id": i, "first_line": f, "last_line": last} for i, f, last in rows]
        )
