"""Responses' state: agencies, their API tokens, and each complaint's case file.

The case file is the internal fold (``kesah.lifecycle``, ``internal=True``)
of every event of the complaint that responses received or wrote, recomputed
in the transaction that journals a new one (with the tracking row, for a
received event). So the agency portal shows the same status and timeline as
the public page, plus what only agencies and operators see, and an agency
loses a complaint the moment its re-routing is handled.

Every read and write of a case goes through ``Responses`` with an ``Actor``;
the authorization matrix (``domain``) is applied here, under every face.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kesah import config, database, lifecycle, reference, signing, stores
from kesah.contracts import RecordedEvent, utc_now
from kesah.eventstore import EventStore, event_to_row, row_to_event
from kesah.groupcommit import SharedTransaction
from kesah.signing import Keyring

from . import domain
from .accounts import Accounts
from .tables import agencies, agency_tokens, case_journal, cases, metadata

CONSUMER = "responses"

AGENCY_ID_RE = r"^[a-z][a-z0-9-]{1,39}$"


class AgencyError(ValueError):
    """An agency change that cannot be made; the message (Indonesian) says why."""


def case_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "complaint_id": doc["complaint_id"],
        "tracking_code": doc["tracking_code"],
        "agency_id": (doc.get("agency") or {}).get("id"),
        "status": doc["status"],
        "kind": doc["kind"],
        "title": doc["title"][:200],
        "due_date": doc["due_date"],
        "overdue": doc["overdue"],
        "awaiting_routing": doc["awaiting_routing"],
        "reroute_requested": doc["reroute_request"] is not None,
        "submitted_at": doc["submitted_at"],
        "updated_at": doc["updated_at"],
        "document": signing.canonical(doc).decode("utf-8"),
    }


class Responses:
    def __init__(self, store: EventStore, keyring: Keyring) -> None:
        self.store = store
        self.keyring = keyring
        self.accounts = Accounts(store.engine)
        # Events delivered together are handled in one transaction (one commit).
        self.transactions = SharedTransaction(store.write)

    @classmethod
    def open(cls, settings: config.Settings) -> "Responses":
        responses = cls(stores.owner_store(settings, "responses"), stores.keyring(settings))
        responses.seed_agencies()
        return responses

    # --- agencies -------------------------------------------------------------

    def seed_agencies(self) -> None:
        with database.writing(self.store.engine) as conn:
            known = {r.agency_id for r in conn.execute(sa.select(agencies.c.agency_id))}
            missing = [a for a in reference.load().agencies if a.id not in known]
            if missing:
                conn.execute(agencies.insert(), [{"agency_id": a.id, "name": a.name} for a in missing])

    def agencies(self) -> dict[str, str]:
        with self.store.engine.connect() as conn:
            return {r.agency_id: r.name for r in conn.execute(sa.select(agencies).order_by(agencies.c.name))}

    def agency_name(self, agency_id: str | None) -> str:
        return self.agencies().get(agency_id or "", agency_id or "")

    def save_agency(self, actor: domain.Actor, agency_id: str, name: str) -> None:
        """Add an agency, or rename one (operators only)."""
        domain.check_operator(actor)
        agency_id, name = agency_id.strip().lower(), " ".join(name.split())
        if not re.match(AGENCY_ID_RE, agency_id):
            raise AgencyError("Kode instansi 2–40 karakter: huruf kecil, angka atau tanda hubung, diawali huruf.")
        if not 3 <= len(name) <= 200:
            raise AgencyError("Nama instansi 3 sampai 200 karakter.")
        with database.writing(self.store.engine) as conn:
            updated = conn.execute(agencies.update().where(agencies.c.agency_id == agency_id).values(name=name))
            if updated.rowcount == 0:
                conn.execute(agencies.insert().values(agency_id=agency_id, name=name))

    # --- tokens -------------------------------------------------------------

    def issue_token(self, agency_id: str) -> str:
        token = domain.new_token()
        with database.writing(self.store.engine) as conn:
            if conn.execute(sa.select(agencies.c.agency_id).where(agencies.c.agency_id == agency_id)).first() is None:
                raise KeyError(agency_id)
            conn.execute(
                agency_tokens.insert().values(
                    token_hash=domain.token_hash(token), agency_id=agency_id, created_at=utc_now()
                )
            )
        return token

    def actor_for_token(self, token: str) -> domain.Actor | None:
        """An agency's API token acts as that agency's staff."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(agencies.c.agency_id, agencies.c.name)
                .select_from(agency_tokens.join(agencies))
                .where(agency_tokens.c.token_hash == domain.token_hash(token))
            ).first()
        return domain.Actor(f"token:{row.agency_id}", "staff", row.agency_id, row.name) if row else None

    # --- case files -----------------------------------------------------------

    def handle(self, event: RecordedEvent) -> None:
        """A complaint event from intake or routing: journal it and refold the case, in one commit.

        Events delivered together share that commit (``SharedTransaction``).
        """
        self.transactions.run(lambda conn: self._handle_in(conn, event))

    def _handle_in(self, conn: Connection, event: RecordedEvent) -> None:
        if self.store.handled(conn, CONSUMER, event.event_id):
            return
        self._journal(conn, event)
        self.store.record_handled(conn, CONSUMER, event.event_id)

    def _journal(self, conn: Connection, event: RecordedEvent) -> None:
        conn.execute(case_journal.insert().values(**event_to_row(event)))
        rows = conn.execute(sa.select(case_journal).where(case_journal.c.correlation_id == event.correlation_id))
        doc = lifecycle.fold([row_to_event(r) for r in rows], internal=True)
        if doc is None:
            return
        conn.execute(cases.delete().where(cases.c.complaint_id == doc["complaint_id"]))
        conn.execute(cases.insert().values(**case_row(doc)))

    @staticmethod
    def _doc(conn: Connection, complaint: str) -> dict[str, Any] | None:
        """By complaint id or tracking code."""
        if len(complaint) == 9:
            condition = cases.c.tracking_code == complaint.upper()
        else:
            condition = cases.c.complaint_id == complaint
        document = conn.execute(sa.select(cases.c.document).where(condition)).scalar()
        return json.loads(document) if document else None

    def case_file(self, actor: domain.Actor, complaint: str) -> dict[str, Any]:
        """The whole case file. LookupError (unknown), domain.NotYours (another agency's)."""
        with self.store.engine.connect() as conn:
            doc = self._doc(conn, complaint)
        if doc is None:
            raise LookupError(complaint)
        domain.check_read(actor, (doc.get("agency") or {}).get("id"))
        return doc

    def inbox(self, actor: domain.Actor, *, agency_id: str | None = None, status: str | None = None,
              overdue: bool = False, kind: str | None = None, queue: str | None = None) -> list[dict[str, Any]]:
        """Complaints of the actor's agency (operators: any agency, or a queue), soonest due first.

        ``queue``: "routing" (waiting for an operator to route them), "reroute" (an agency asked to
        give them away); operators only.
        """
        if actor.is_operator:
            pass
        elif agency_id not in (None, actor.agency_id) or queue:
            raise domain.Forbidden("Hanya operator yang dapat melihat antrean instansi lain.")
        else:
            agency_id = actor.agency_id
        query = sa.select(cases.c.complaint_id, cases.c.tracking_code, cases.c.agency_id, cases.c.status, cases.c.kind, cases.c.title,
                          cases.c.due_date, cases.c.overdue, cases.c.reroute_requested, cases.c.awaiting_routing,
                          cases.c.submitted_at)
        if agency_id:
            query = query.where(cases.c.agency_id == agency_id)
        if queue == "routing":
            query = query.where(cases.c.awaiting_routing.is_(True), cases.c.status == "diterima")
        elif queue == "reroute":
            query = query.where(cases.c.reroute_requested.is_(True))
        if status == "terbuka":
            query = query.where(cases.c.status.in_(lifecycle.AWAITING_ANSWER))
        elif status:
            query = query.where(cases.c.status == status)
        if overdue:
            query = query.where(cases.c.overdue.is_(True))
        if kind:
            query = query.where(cases.c.kind == kind)
        # Open complaints first, then by due date (none last), then oldest first.
        open_first = sa.case((cases.c.status.in_(lifecycle.AWAITING_ANSWER), 0), else_=1)
        no_due_last = sa.case((cases.c.due_date.is_(None), 1), else_=0)
        query = query.order_by(open_first, no_due_last, cases.c.due_date, cases.c.submitted_at).limit(500)
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def _act(self, actor: domain.Actor, complaint: str, decide: Any) -> RecordedEvent:
        with self.store.write() as conn:
            doc = self._doc(conn, complaint)
            if doc is None:
                raise LookupError(complaint)
            agency_name = self.agency_name(actor.agency_id)
            (recorded,) = self.store.append(conn, [decide(doc, agency_name)])
            self._journal(conn, recorded)
        return recorded

    def answer(self, actor: domain.Actor, complaint: str, body: str, status: str) -> RecordedEvent:
        """LookupError (unknown complaint), domain.Forbidden/NotYours, domain.Conflict."""
        return self._act(actor, complaint,
                         lambda doc, name: domain.response_posted(actor, doc, name, body, status))

    def request_reroute(self, actor: domain.Actor, complaint: str, reason: str,
                        suggested_agency_id: str | None) -> RecordedEvent:
        if suggested_agency_id and suggested_agency_id not in self.agencies():
            suggested_agency_id = None
        return self._act(actor, complaint,
                         lambda doc, name: domain.reroute_requested(actor, doc, name, reason, suggested_agency_id))
