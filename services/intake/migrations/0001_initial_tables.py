"""Initial tables.

IF NOT EXISTS adopts a database whose tables were made before migrations existed.

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
    op.create_table("complaints",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("tracking_code", sa.String(length=9), nullable=False),
    sa.Column("secret_hash", sa.String(length=64), nullable=False),
    sa.Column("submitted_at", sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint("complaint_id"),
    sa.UniqueConstraint("tracking_code"),
    if_not_exists=True,
    )
    op.create_table("contact_keys",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("wrapped_key", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("complaint_id"),
    if_not_exists=True,
    )
    op.create_table("contacts",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("ciphertext", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("complaint_id"),
    if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("contacts")
    op.drop_table("contact_keys")
    op.drop_table("complaints")
