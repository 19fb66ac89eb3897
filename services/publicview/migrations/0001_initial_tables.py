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
    op.create_table("checkpoint",
    sa.Column("name", sa.String(length=40), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("name"),
    if_not_exists=True,
    )
    op.create_table("complaints",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("tracking_code", sa.String(length=9), nullable=False),
    sa.Column("visibility", sa.String(length=20), nullable=False),
    sa.Column("kind", sa.String(length=20), nullable=True),
    sa.Column("kelurahan", sa.String(length=100), nullable=True),
    sa.Column("status", sa.String(length=20), nullable=True),
    sa.Column("agency_id", sa.String(length=40), nullable=True),
    sa.Column("submitted_at", sa.String(length=40), nullable=False),
    sa.Column("updated_at", sa.String(length=40), nullable=False),
    sa.Column("document", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("complaint_id"),
    sa.UniqueConstraint("tracking_code"),
    if_not_exists=True,
    )
    op.create_index("ix_complaints_submitted", "complaints", ["submitted_at"], if_not_exists=True)
    op.create_table("journal",
    sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("event_id", sa.String(length=36), nullable=False),
    sa.Column("source", sa.String(length=40), nullable=False),
    sa.Column("type", sa.String(length=80), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("stream_id", sa.String(length=200), nullable=False),
    sa.Column("stream_version", sa.Integer(), nullable=False),
    sa.Column("occurred_at", sa.String(length=40), nullable=False),
    sa.Column("causation_id", sa.String(length=36), nullable=True),
    sa.Column("correlation_id", sa.String(length=200), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(length=64), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.Column("key_id", sa.String(length=64), nullable=False),
    sa.Column("signature", sa.String(length=200), nullable=False),
    sa.Column("received_at", sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint("seq"),
    sa.UniqueConstraint("event_id"),
    sa.UniqueConstraint("source", "position", name="uq_journal_source_position"),
    if_not_exists=True,
    )
    op.create_index("ix_journal_correlation", "journal", ["correlation_id"], if_not_exists=True)

def downgrade() -> None:
    op.drop_index("ix_journal_correlation", table_name="journal")
    op.drop_table("journal")
    op.drop_index("ix_complaints_submitted", table_name="complaints")
    op.drop_table("complaints")
    op.drop_table("checkpoint")
