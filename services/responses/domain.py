"""Responses' pure rules: who may do what with which complaint, and the agencies' events.

The authorization matrix lives here and is applied by the store (``Responses``),
which every face calls: a page or API that forgot to check still could not
let agency A read, answer or re-route a complaint routed to agency B.

| action                         | staff of A | admin of A | operator | other agency |
|--------------------------------|------------|------------|----------|--------------|
| read A's case file, inbox      | yes        | yes        | yes      | no (403)     |
| answer, ask for re-routing     | yes        | yes        | no       | no (403)     |
| manage A's staff accounts      | no         | yes        | yes      | no (403)     |
| manage agencies, route, rules  | no         | no         | yes      | no (403)     |
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from kesah.contracts import NewEvent, utc_now
from kesah.lifecycle import AWAITING_ANSWER

ROLES = ("staff", "admin", "operator")
ROLE_LABELS = {"staff": "Staf", "admin": "Admin instansi", "operator": "Operator"}
ANSWERABLE = AWAITING_ANSWER + ("dijawab",)


@dataclass(frozen=True)
class Actor:
    """Who acts: an agency's staff or admin, an operator, or an agency's API token (as staff)."""

    username: str
    role: str
    agency_id: str | None
    name: str = ""

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


class Forbidden(Exception):
    """Not this actor's to do (HTTP 403); the message (Indonesian) says why."""


class NotYours(Forbidden):
    """The complaint is not routed to the acting agency."""


class Conflict(Exception):
    """The complaint's state does not allow it (HTTP 409); the message says why."""


def may_read(actor: Actor, case_agency_id: str | None) -> bool:
    return actor.is_operator or (actor.agency_id is not None and actor.agency_id == case_agency_id)


def check_read(actor: Actor, case_agency_id: str | None) -> None:
    if not may_read(actor, case_agency_id):
        raise NotYours("Aduan ini tidak diteruskan ke instansi Anda.")


def check_act(actor: Actor, case_agency_id: str | None) -> None:
    """Answering and asking for re-routing belong to the agency the complaint is routed to."""
    if actor.is_operator:
        raise Forbidden("Operator tidak menjawab atas nama instansi.")
    check_read(actor, case_agency_id)


def check_manage_accounts(actor: Actor, agency_id: str | None) -> None:
    if actor.is_operator:
        return
    if actor.role != "admin" or agency_id is None or agency_id != actor.agency_id:
        raise Forbidden("Hanya admin instansi ini atau operator yang dapat mengelola akunnya.")


def check_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise Forbidden("Hanya operator yang dapat melakukan ini.")


def _event(type_: str, case: dict[str, Any], payload: dict[str, Any]) -> NewEvent:
    return NewEvent(
        type=type_,
        stream_id=case["complaint_id"],
        payload={"complaint_id": case["complaint_id"], "tracking_code": case["tracking_code"], **payload},
        event_id=str(uuid.uuid4()),
        occurred_at=utc_now(),
        correlation_id=case["complaint_id"],
        # The last event the agency saw of this complaint: the answer follows it on every timeline.
        causation_id=case.get("last_event_id"),
    )


def response_posted(actor: Actor, case: dict[str, Any], agency_name: str, body: str, status: str) -> NewEvent:
    """``case`` is the internal fold (kesah.lifecycle) of the complaint."""
    agency_id = (case.get("agency") or {}).get("id")
    check_act(actor, agency_id)
    if case["status"] not in ANSWERABLE:
        raise Conflict("Aduan yang sudah selesai atau ditolak tidak dapat dijawab lagi.")
    return _event("ResponsePosted", case, {
        "response_id": str(uuid.uuid4()), "agency_id": agency_id, "agency_name": agency_name,
        "body": body, "status": status,
    })


def reroute_requested(actor: Actor, case: dict[str, Any], agency_name: str, reason: str,
                      suggested_agency_id: str | None) -> NewEvent:
    agency_id = (case.get("agency") or {}).get("id")
    check_act(actor, agency_id)
    if case["status"] not in AWAITING_ANSWER:
        raise Conflict("Hanya aduan yang belum dijawab yang dapat dimintakan pengalihan.")
    if case.get("reroute_request"):
        raise Conflict("Permintaan pengalihan sudah dikirim dan sedang menunggu keputusan.")
    if suggested_agency_id == agency_id:
        suggested_agency_id = None
    return _event("RerouteRequested", case, {
        "agency_id": agency_id, "agency_name": agency_name, "reason": reason,
        "suggested_agency_id": suggested_agency_id,
    })


def new_token() -> str:
    return "ke_" + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
