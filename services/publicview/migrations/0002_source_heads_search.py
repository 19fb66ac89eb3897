"""Owners' log heads (for the status page) and full-text search.

The search table is raw DDL, different per database and not in the
MetaData: an FTS5 virtual table on SQLite; a tsvector column with a GIN
index on PostgreSQL. It is filled as complaints are projected; a database
upgraded with complaints already in it gets them indexed here.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("source_heads",
    sa.Column("source", sa.String(length=40), nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(length=64), nullable=False),
    sa.Column("checked_at", sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint("source"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE TABLE complaint_search (complaint_id VARCHAR(36) PRIMARY KEY, tsv TSVECTOR NOT NULL)")
        op.execute("CREATE INDEX ix_complaint_search ON complaint_search USING GIN (tsv)")
    else:
        op.execute("CREATE VIRTUAL TABLE complaint_search USING fts5("
                   "complaint_id UNINDEXED, text, tokenize = 'unicode61 remove_diacritics 2')")
    from services.publicview.store import index_complaint

    for (document,) in bind.execute(sa.text("SELECT document FROM complaints")).all():
        index_complaint(bind, json.loads(document))


def downgrade() -> None:
    op.execute("DROP TABLE complaint_search")
    op.drop_table("source_heads")
