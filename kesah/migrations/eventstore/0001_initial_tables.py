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
    op.create_table("events",
    sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
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
    sa.PrimaryKeyConstraint("position"),
    sa.UniqueConstraint("event_id"),
    sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    if_not_exists=True,
    )
    op.create_table("handled",
    sa.Column("consumer", sa.String(length=80), nullable=False),
    sa.Column("event_id", sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint("consumer", "event_id"),
    if_not_exists=True,
    )
    op.create_table("outbox",
    sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint("position"),
    if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("handled")
    op.drop_table("events")
