"""Responses' pure rules: who may answer what, and the answer as an event."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from kesah.contracts import NewEvent, utc_now


@dataclass(frozen=True)
class Assignment:
    """A complaint as routed to an agency (from ComplaintRouted)."""

    complaint_id: str
    tracking_code: str
    agency_id: str
    routed_event_id: str
    due_date: str


class NotYours(Exception):
    """The complaint is not routed to the acting agency."""


def may_answer(agency_id: str, assignment: Assignment) -> bool:
    return assignment.agency_id == agency_id


def response_posted(
    assignment: Assignment, agency_id: str, agency_name: str, body: str, status: str
) -> NewEvent:
    if not may_answer(agency_id, assignment):
        raise NotYours(assignment.complaint_id)
    return NewEvent(
        type="ResponsePosted",
        stream_id=assignment.complaint_id,
        payload={
            "complaint_id": assignment.complaint_id,
            "tracking_code": assignment.tracking_code,
            "response_id": str(uuid.uuid4()),
            "agency_id": agency_id,
            "agency_name": agency_name,
            "body": body,
            "status": status,
        },
        event_id=str(uuid.uuid4()),
        occurred_at=utc_now(),
        correlation_id=assignment.complaint_id,
        causation_id=assignment.routed_event_id,
    )


def new_token() -> str:
    return "ke_" + secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
