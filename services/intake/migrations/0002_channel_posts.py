"""Posts from channels, each once: unique on (channel, source_id).

IF NOT EXISTS adopts a database whose tables were made before migrations existed.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("channel_posts",
    sa.Column("post_id", sa.String(length=36), nullable=False),
    sa.Column("channel", sa.String(length=40), nullable=False),
    sa.Column("source_id", sa.String(length=200), nullable=False),
    sa.Column("source_url", sa.String(length=500), nullable=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("posted_at", sa.String(length=40), nullable=True),
    sa.Column("received_at", sa.String(length=40), nullable=False),
    sa.Column("kind", sa.String(length=20), nullable=True),
    sa.Column("kelurahan", sa.String(length=100), nullable=True),
    sa.Column("reasons", sa.Text(), nullable=False),
    sa.Column("complaint_id", sa.String(length=36), nullable=True),
    sa.Column("contact_ciphertext", sa.Text(), nullable=True),
    sa.Column("contact_wrapped_key", sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("post_id"),
    sa.UniqueConstraint("channel", "source_id", name="uq_channel_posts_source"),
    sa.UniqueConstraint("complaint_id"),
    if_not_exists=True,
    )
    op.create_index("ix_channel_posts_waiting", "channel_posts", ["complaint_id", "received_at"], unique=False,
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_channel_posts_waiting", table_name="channel_posts")
    op.drop_table("channel_posts")
