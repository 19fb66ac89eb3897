"""Photos and Open311 api keys; contact keys move out to the contact vault.

A waiting post's contact key moves to the vault too (under the post's id),
so channel_posts loses its contact_wrapped_key column.

The per-complaint contact keys now live in their own database (the contact
vault), so that backups of intake's database never hold a usable key. The
old table is dropped only while empty: a database that holds keys here was
made before the vault existed, and its keys must be moved first. IF NOT
EXISTS adopts a database whose tables were made before migrations existed.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
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
    inspector = sa.inspect(bind)
    old_column = "contact_wrapped_key" in {c["name"] for c in inspector.get_columns("channel_posts")}
    held = 0
    if old_column:
        held += bind.execute(sa.text("SELECT count(*) FROM channel_posts WHERE contact_wrapped_key IS NOT NULL")).scalar()
    if "contact_keys" in inspector.get_table_names():
        held += bind.execute(sa.text("SELECT count(*) FROM contact_keys")).scalar()
    if held:
        raise RuntimeError(
            f"intake's database holds {held} contact keys: move them to the contact vault "
            "(KESAH_CONTACT_VAULT_DB_URL, table contact_keys) before migrating, or they are lost"
        )
    op.drop_table("contact_keys", if_exists=True)
    if old_column:
        with op.batch_alter_table("channel_posts") as batch:
            batch.drop_column("contact_wrapped_key")


def downgrade() -> None:
    with op.batch_alter_table("channel_posts") as batch:
        batch.add_column(sa.Column("contact_wrapped_key", sa.Text(), nullable=True))
    op.create_table("contact_keys",
    sa.Column("complaint_id", sa.String(length=36), nullable=False),
    sa.Column("wrapped_key", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["complaint_id"], ["complaints.complaint_id"], ),
    sa.PrimaryKeyConstraint("complaint_id"),
    )
    op.drop_index("ix_photos_complaint_id", table_name="photos")
    op.drop_table("photos")
    op.drop_table("api_keys")
