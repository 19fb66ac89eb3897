"""The self-watch status table.

IF NOT EXISTS adopts a database whose table was made before migrations existed.

Revision ID: 0001
Revises: nothing (the first)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("watch_status",
    sa.Column("name", sa.String(length=40), nullable=False),
    sa.Column("problem", sa.Text(), nullable=True),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Column("checked_at", sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint("name"),
    if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("watch_status")
