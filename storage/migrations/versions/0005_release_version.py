"""release.version grouping: `release_env.version`

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

`release_env` gains `version`, the release without its package and build code
(`pkg@25.11.2+345` -> `25.11.2`), which `groupBy=release.version` groups by. New series get
it when they are created (`storage.sql.catalogue`); existing rows are back-filled here in
batches of `BATCH_SIZE` rows (keyset pages by id), so that memory stays flat however many
series a database holds, then the column becomes NOT NULL and is indexed with the project
(`release.version` groups and page filters select series by version).

The value is computed by `storage.release_parser.version_key` (a pure function of the
release name). Unlike the models, that rule is imported rather than copied: a later change
to it must come with its own revision recomputing the column anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.release_parser import version_key

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rows read and updated per statement while back-filling.
BATCH_SIZE = 1000

_PAGE = sa.text("SELECT id, release FROM release_env WHERE id > :after ORDER BY id LIMIT :n")
_SET = sa.text("UPDATE release_env SET version = :v WHERE id = :id")


def upgrade() -> None:
    # Nullable first: existing rows have no value until the back-fill below.
    with op.batch_alter_table("release_env") as batch:
        batch.add_column(sa.Column("version", sa.String(), nullable=True))
    conn = op.get_bind()
    after = -1
    while True:
        rows = conn.execute(_PAGE, {"after": after, "n": BATCH_SIZE}).all()
        if not rows:
            break
        conn.execute(_SET, [{"id": sid, "v": version_key(release)} for sid, release in rows])
        after = rows[-1][0]
        if len(rows) < BATCH_SIZE:
            break
    # SQLite cannot ALTER a column: the batch rebuilds the table (once, in one copy).
    with op.batch_alter_table("release_env") as batch:
        batch.alter_column("version", existing_type=sa.String(), nullable=False)
    op.create_index("ix_release_env_project_version", "release_env", ["project_id", "version"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_release_env_project_version", table_name="release_env")
    with op.batch_alter_table("release_env") as batch:
        batch.drop_column("version")
