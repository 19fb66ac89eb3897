"""Responses' state: agencies, their API tokens, the complaints routed to them."""

from __future__ import annotations

import sqlalchemy as sa

from kesah import config, reference, stores
from kesah.contracts import RecordedEvent, utc_now
from kesah.eventstore import EventStore
from kesah.signing import Keyring

from . import domain

CONSUMER = "responses"

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

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("complaint_id", sa.String(36), primary_key=True),
    sa.Column("tracking_code", sa.String(9), nullable=False, unique=True),
    sa.Column("agency_id", sa.String(40), nullable=False, index=True),
    sa.Column("routed_event_id", sa.String(36), nullable=False),
    sa.Column("due_date", sa.String(10), nullable=False),
)


class Responses:
    def __init__(self, store: EventStore, keyring: Keyring) -> None:
        self.store = store
        self.keyring = keyring

    @classmethod
    def open(cls, settings: config.Settings) -> "Responses":
        responses = cls(stores.owner_store(settings, "responses"), stores.keyring(settings))
        responses.seed_agencies()
        return responses

    def seed_agencies(self) -> None:
        with self.store.write() as conn:
            known = {r.agency_id for r in conn.execute(sa.select(agencies.c.agency_id))}
            missing = [a for a in reference.load().agencies if a.id not in known]
            if missing:
                conn.execute(agencies.insert(), [{"agency_id": a.id, "name": a.name} for a in missing])

    # --- tokens -------------------------------------------------------------

    def issue_token(self, agency_id: str) -> str:
        token = domain.new_token()
        with self.store.write() as conn:
            if conn.execute(sa.select(agencies.c.agency_id).where(agencies.c.agency_id == agency_id)).first() is None:
                raise KeyError(agency_id)
            conn.execute(
                agency_tokens.insert().values(
                    token_hash=domain.token_hash(token), agency_id=agency_id, created_at=utc_now()
                )
            )
        return token

    def agency_for_token(self, token: str) -> tuple[str, str] | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(agencies.c.agency_id, agencies.c.name)
                .select_from(agency_tokens.join(agencies))
                .where(agency_tokens.c.token_hash == domain.token_hash(token))
            ).first()
        return (row.agency_id, row.name) if row else None

    # --- assignments -----------------------------------------------------------

    def handle(self, event: RecordedEvent) -> None:
        if event.type != "ComplaintRouted":
            return
        p = event.payload
        with self.store.write() as conn:
            if self.store.handled(conn, CONSUMER, event.event_id):
                return
            conn.execute(assignments.delete().where(assignments.c.complaint_id == p["complaint_id"]))
            conn.execute(
                assignments.insert().values(
                    complaint_id=p["complaint_id"],
                    tracking_code=p["tracking_code"],
                    agency_id=p["agency_id"],
                    routed_event_id=event.event_id,
                    due_date=p["due_date"],
                )
            )
            self.store.record_handled(conn, CONSUMER, event.event_id)

    @staticmethod
    def _lookup(conn: sa.Connection, complaint: str) -> domain.Assignment | None:
        """By complaint id or tracking code."""
        if len(complaint) == 9:
            condition = assignments.c.tracking_code == complaint.upper()
        else:
            condition = assignments.c.complaint_id == complaint
        row = conn.execute(sa.select(assignments).where(condition)).first()
        return domain.Assignment(**row._mapping) if row else None

    def assignment(self, complaint: str) -> domain.Assignment | None:
        with self.store.engine.connect() as conn:
            return self._lookup(conn, complaint)

    def assigned_to(self, agency_id: str) -> list[domain.Assignment]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(assignments).where(assignments.c.agency_id == agency_id).order_by(assignments.c.due_date)
            ).all()
        return [domain.Assignment(**r._mapping) for r in rows]

    def answer(self, complaint: str, agency_id: str, agency_name: str, body: str, status: str) -> RecordedEvent:
        """Raises LookupError (unknown complaint) or domain.NotYours (another agency's)."""
        with self.store.write() as conn:
            assignment = self._lookup(conn, complaint)
            if assignment is None:
                raise LookupError(complaint)
            event = domain.response_posted(assignment, agency_id, agency_name, body, status)
            (recorded,) = self.store.append(conn, [event])
        return recorded
