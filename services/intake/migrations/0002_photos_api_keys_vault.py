"""Photos and Open311 api keys; contact keys move out to the contact vault.

The per-complaint contact keys now live in their own database (the contact
vault), so that backups of intake's database never hold a usable key. The
old table is dropped only while empty: a database that holds keys here was
made before the vault existed, and its keys must be moved first. IF NOT
EXISTS adopts a database whose tables were made before migrations existed.

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
    op.create_table("api_keys",
    sa.Column("key_hash", sa.String(length=64), nullable=False),
    sa.Column("client", sa.String(length=40), nullable=False),
    sa.Column("created_at", sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint("key_hash"),
    if_not_exists=True,
    )
    op.create_table("photos",
    sa.Column("photo_id", sa.String(length=36), nullable=False),
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("content_type", sa.String(length=40), nullable=False),
    sa.Column("listed", sa.Boolean(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("photo_id"),
    if_not_exists=True,
    )
    op.create_index("ix_photos_complaint_id", "photos", ["complaint_id"], unique=False, if_not_exists=True)
    bind = op.get_bind()
    if "contact_keys" not in sa.inspect(bind).get_table_names():
        return
    held = bind.execute(sa.text("SELECT count(*) FROM contact_keys")).scalar()
    if held:
        raise RuntimeError(
            f"intake's contact_keys table holds {held} keys: move them to the contact vault "
            "(KESAH_CONTACT_VAULT_DB_URL, table contact_keys) before migrating, or they are lost"
        )
    op.drop_table("contact_keys")


def downgrade() -> None:
    op.create_table("contact_keys",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("wrapped_key", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("complaint_id"),
    )
    op.drop_index("ix_photos_complaint_id", table_name="photos")
    op.drop_table("photos")
    op.drop_table("api_keys")
