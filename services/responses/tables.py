"""Responses' tables beside its event log: agencies, accounts, sessions, failed logins, the agencies' case files."""

from __future__ import annotations

import sqlalchemy as sa

from kesah.eventstore import event_columns

metadata = sa.MetaData()

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("agency_id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

agency_tokens = sa.Table(
    "agency_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("agency_id", sa.String(40), sa.ForeignKey("agencies.agency_id"), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# Every complaint event responses received or wrote, kept to fold the case file from.
case_journal = sa.Table(
    "case_journal",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    *event_columns(),
    sa.Index("ix_case_journal_correlation", "correlation_id"),
)

# The case file of each complaint: the internal fold (kesah.lifecycle) plus columns to filter on.
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("tracking_code", sa.String(9), nullable=False, unique=True),
    sa.Column("agency_id", sa.String(40), index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("due_date", sa.String(10)),
    sa.Column("overdue", sa.Boolean, nullable=False),
    sa.Column("awaiting_routing", sa.Boolean, nullable=False),
    sa.Column("reroute_requested", sa.Boolean, nullable=False),
    sa.Column("submitted_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("username", sa.String(60), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # staff | admin | operator
    sa.Column("agency_id", sa.String(40), sa.ForeignKey("agencies.agency_id")),  # None for operators
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(60), sa.ForeignKey("accounts.username"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.String(40), nullable=False),
)

# Failed logins in a row per (username as typed, client address), and per address over every username
# (username_key "*"): auth.py's backoff. In the database so that a restart forgets nothing and every
# replica of the web face counts the same. The username is kept as a digest: people type passwords there.
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("username_key", sa.String(64), primary_key=True),
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.String(40)),
    sa.Column("last_failure_at", sa.String(40), nullable=False, index=True),
)
