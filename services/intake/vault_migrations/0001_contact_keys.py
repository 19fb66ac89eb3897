"""Contact keys, in a database apart from intake's.

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
    op.create_table("contact_keys",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("wrapped_key", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("complaint_id"),
    )


def downgrade() -> None:
    op.drop_table("contact_keys")
