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
    op.create_table("agencies",
    sa.Column("agency_id", sa.String(length=40), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint("agency_id"),
    if_not_exists=True,
    )
    op.create_table("assignments",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("tracking_code", sa.String(length=9), nullable=False),
    sa.Column("agency_id", sa.String(length=40), nullable=False),
    sa.Column("routed_event_id", sa.String(length=36), nullable=False),
    sa.Column("due_date", sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint("complaint_id"),
    sa.UniqueConstraint("tracking_code"),
    if_not_exists=True,
    )
    op.create_index("ix_assignments_agency_id", "assignments", ["agency_id"], if_not_exists=True)
    op.create_table("agency_tokens",
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("agency_id", sa.String(length=40), nullable=False),
    sa.Column("created_at", sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"], ),
    sa.PrimaryKeyConstraint("token_hash"),
    if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("agency_tokens")
    op.drop_index("ix_assignments_agency_id", table_name="assignments")
    op.drop_table("assignments")
    op.drop_table("agencies")
