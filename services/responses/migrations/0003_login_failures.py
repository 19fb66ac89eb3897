"""Failed logins per (username as typed, client address) and per address; the accounts' own lock columns go.

The lock moves off the account: an account locked by anyone's failures let
an attacker anywhere lock its owner out (issue 13). Plain DROP COLUMN, not
a batch copy of the table: SQLite 3.35+ drops a column in place, and the
copy would trip over the sessions' foreign key to accounts.

Revision ID: 0003
Revises: 0002
Created: 2026-12-07 02:34:06.664152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('username_key', sa.String(length=64), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.String(length=40), nullable=True),
    sa.Column('last_failure_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('username_key', 'client'),
    if_not_exists=True,
    )
    op.create_index('ix_login_failures_last_failure_at', 'login_failures', ['last_failure_at'], unique=False,
                    if_not_exists=True)
    op.drop_column('accounts', 'failed_logins')
    op.drop_column('accounts', 'locked_until')


def downgrade() -> None:
    op.add_column('accounts', sa.Column('locked_until', sa.String(length=40), nullable=True))
    op.add_column('accounts', sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
    op.drop_index('ix_login_failures_last_failure_at', table_name='login_failures')
    op.drop_table('login_failures')
