"""Event contracts: the facts services tell each other.

Each event type has a marshmallow schema per version. Payloads are validated
on write (before they are hashed and signed) and on read (before a consumer
acts on them). Old versions are upcast on read, never rewritten in the log:
the hash covers the payload as it was written.

The envelope (``RecordedEvent``) is what the event store keeps and what
travels on the bus: ids, type and version live in the body, never only in
AMQP headers, because a RabbitMQ stream drops headers that hold lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate

from . import signing

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TRACKING_CODE_RE = r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"

KINDS = ("informasi", "keluhan", "pertanyaan", "kritik", "saran")
VISIBILITIES = ("public", "anonymous", "confidential")
RESPONSE_STATUSES = ("diproses", "dijawab")


def _uuid() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(UUID_RE))


def _tracking_code() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(TRACKING_CODE_RE))


class ComplaintSubmittedV1(Schema):
    """A citizen's submission as accepted by intake. No contact data, ever."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True, validate=validate.Length(1, 200))
    body = fields.String(required=True, validate=validate.Length(1, 5000))
    kelurahan = fields.String(required=True, validate=validate.Length(1, 100))
    kecamatan = fields.String(required=True, validate=validate.Length(1, 100))
    address = fields.String(required=True, validate=validate.Length(0, 300))
    visibility = fields.String(required=True, validate=validate.OneOf(VISIBILITIES))
    channel = fields.String(required=True, validate=validate.Length(1, 40))


class ComplaintSubmittedV2(ComplaintSubmittedV1):
    """V1 plus where the complaint came from: a post's id and address on its channel.

    Both are null for complaints made on the site. The post's author is
    contact data: it stays in intake's vault, never here.
    """

    source_id = fields.String(required=True, allow_none=True, validate=validate.Length(1, 200))
    source_url = fields.String(required=True, allow_none=True, validate=validate.Length(1, 500))


def _submitted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "source_id": None, "source_url": None}


class ComplaintRoutedV1(Schema):
    """Routing chose the agency that must answer, and by when."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    agency_id = fields.String(required=True, validate=validate.Length(1, 40))
    agency_name = fields.String(required=True, validate=validate.Length(1, 200))
    due_date = fields.Date(required=True)
    matched_keywords = fields.List(fields.String(), required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 300))


class ResponsePostedV1(Schema):
    """An agency answered a complaint publicly."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    response_id = _uuid()
    agency_id = fields.String(required=True, validate=validate.Length(1, 40))
    agency_name = fields.String(required=True, validate=validate.Length(1, 200))
    body = fields.String(required=True, validate=validate.Length(1, 5000))
    status = fields.String(required=True, validate=validate.OneOf(RESPONSE_STATUSES))


def _agency_id(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(1, 40), **kwargs)


def _agency_name(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(1, 200), **kwargs)


def _reason(minimum: int = 1) -> fields.String:
    return fields.String(required=True, validate=validate.Length(minimum, 1000))


# --- the complaint's lifecycle after routing -------------------------------------


class ComplaintAwaitingRoutingV1(Schema):
    """No rule matched: the complaint waits in the operator's queue for manual routing."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    reason = _reason()


class ComplaintReroutedV1(Schema):
    """The complaint moves to another agency (dialihkan); the first one loses access."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    from_agency_id = _agency_id(required=True)
    from_agency_name = _agency_name(required=True)
    agency_id = _agency_id(required=True)
    agency_name = _agency_name(required=True)
    due_date = fields.Date(required=True)
    reason = _reason()
    decided_by = fields.String(required=True, validate=validate.OneOf(("rules", "operator")))


class ComplaintRejectedV1(Schema):
    """An operator rejected the complaint as spam or abuse (ditolak), with the reason."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    reason = _reason()


class ComplaintOverdueV1(Schema):
    """The agency let the due date pass without an answer."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    agency_id = _agency_id(required=True)
    agency_name = _agency_name(required=True)
    due_date = fields.Date(required=True)


class DueDateSetV1(Schema):
    """A new due date for the same agency (after the reporter reopened the complaint)."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    agency_id = _agency_id(required=True)
    due_date = fields.Date(required=True)
    reason = _reason()


class RerouteRequestedV1(Schema):
    """An agency says the complaint is not theirs and asks routing to move it."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    agency_id = _agency_id(required=True)
    agency_name = _agency_name(required=True)
    reason = _reason(5)
    suggested_agency_id = _agency_id(required=True, allow_none=True)


class ComplaintClosedV1(Schema):
    """The reporter (proven by the secret) confirms that the answer solved it (selesai)."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    comment = fields.String(required=True, validate=validate.Length(0, 2000))


class ComplaintReopenedV1(Schema):
    """The reporter (proven by the secret) reopens the complaint, once, saying why."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    comment = fields.String(required=True, validate=validate.Length(5, 2000))


# --- routing rules as data ---------------------------------------------------------


class RoutingRuleV1(Schema):
    """A routing rule as added or changed: keywords send complaints to an agency."""

    rule_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,59}$"))
    agency_id = _agency_id(required=True)
    agency_name = _agency_name(required=True)
    keywords = fields.List(fields.String(validate=validate.Length(1, 100)), required=True,
                           validate=validate.Length(1, 200))
    kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), required=True)
    kelurahan = fields.List(fields.String(validate=validate.Length(1, 100)), required=True)


class RoutingRuleRemovedV1(Schema):
    rule_id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,59}$"))
PHOTO_TYPES = ("image/jpeg", "image/png")


class PhotoAttachedV1(Schema):
    """A photo the reporter attached, as intake keeps and serves it: re-encoded, with
    every metadata (EXIF, GPS, comments) stripped. The bytes stay in intake; the hash
    lets anyone check the served photo against the signed log."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()
    photo_id = _uuid()
    content_type = fields.String(required=True, validate=validate.OneOf(PHOTO_TYPES))
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    width = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    height = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


class ContactErasedV1(Schema):
    """The reporter's contact data was erased: its key is destroyed, nothing can bring it back."""

    complaint_id = _uuid()
    tracking_code = _tracking_code()


class LogCheckpointedV1(Schema):
    """An owner vouches for its own log: verified from position 1 up to ``position``,
    whose event's hash is ``hash``. Signed like every event, so it proves itself; an
    auditor who keeps one can later check that nothing up to there was changed or removed."""

    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    hash = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))


EVERY_OWNER = "*"  # a type every owner signs, each about its own log


@dataclass(frozen=True)
class Contract:
    type: str
    version: int
    source: str  # the owning service: only its key may sign this type (EVERY_OWNER: each its own)
    schema: type[Schema]

    def signed_by(self, source: str) -> bool:
        return self.source in (source, EVERY_OWNER)


CONTRACTS: dict[tuple[str, int], Contract] = {
    (c.type, c.version): c
    for c in (
        Contract("ComplaintSubmitted", 1, "intake", ComplaintSubmittedV1),
        Contract("ComplaintSubmitted", 2, "intake", ComplaintSubmittedV2),
        Contract("ComplaintRouted", 1, "routing", ComplaintRoutedV1),
        Contract("ResponsePosted", 1, "responses", ResponsePostedV1),
        Contract("ComplaintAwaitingRouting", 1, "routing", ComplaintAwaitingRoutingV1),
        Contract("ComplaintRerouted", 1, "routing", ComplaintReroutedV1),
        Contract("ComplaintRejected", 1, "routing", ComplaintRejectedV1),
        Contract("ComplaintOverdue", 1, "routing", ComplaintOverdueV1),
        Contract("DueDateSet", 1, "routing", DueDateSetV1),
        Contract("RoutingRuleAdded", 1, "routing", RoutingRuleV1),
        Contract("RoutingRuleChanged", 1, "routing", RoutingRuleV1),
        Contract("RoutingRuleRemoved", 1, "routing", RoutingRuleRemovedV1),
        Contract("RerouteRequested", 1, "responses", RerouteRequestedV1),
        Contract("ComplaintClosed", 1, "intake", ComplaintClosedV1),
        Contract("ComplaintReopened", 1, "intake", ComplaintReopenedV1),
        Contract("PhotoAttached", 1, "intake", PhotoAttachedV1),
        Contract("ContactErased", 1, "intake", ContactErasedV1),
        Contract("LogCheckpointed", 1, EVERY_OWNER, LogCheckpointedV1),
    )
}
LATEST: dict[str, int] = {}
for _type, _version in CONTRACTS:
    LATEST[_type] = max(LATEST.get(_type, 0), _version)

# (type, from_version) -> function giving the payload of from_version + 1
UPCASTERS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("ComplaintSubmitted", 1): _submitted_v1_to_v2,
}

_SCHEMAS: dict[tuple[str, int], Schema] = {key: c.schema() for key, c in CONTRACTS.items()}


class ContractError(ValueError):
    """An event does not satisfy its contract; the message says how."""


def contract_for(event_type: str, version: int) -> Contract:
    try:
        return CONTRACTS[(event_type, version)]
    except KeyError:
        raise ContractError(f"unknown event type {event_type} v{version}") from None


def validate_payload(event_type: str, version: int, payload: dict[str, Any]) -> None:
    contract_for(event_type, version)
    errors = _SCHEMAS[(event_type, version)].validate(payload)
    if errors:
        raise ContractError(f"{event_type} v{version} payload invalid: {errors}")


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Bring a payload to the latest version of its type."""
    while version < LATEST.get(event_type, version):
        payload = UPCASTERS[(event_type, version)](payload)
        version += 1
    return version, payload


def utc_now() -> str:
    """Timestamps are ISO 8601 UTC strings with microseconds: they sort as text."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended; the store gives it position, hash, signature."""

    type: str
    stream_id: str
    payload: dict[str, Any]
    event_id: str
    occurred_at: str
    correlation_id: str
    causation_id: str | None = None
    version: int = 0  # 0: the latest version of the type

    def resolved_version(self) -> int:
        return self.version or LATEST[self.type]


HASHED_FIELDS = (
    "position", "event_id", "source", "type", "version", "stream_id", "stream_version",
    "occurred_at", "causation_id", "correlation_id", "payload", "prev_hash",
)
MESSAGE_FIELDS = HASHED_FIELDS + ("hash", "key_id", "signature")


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored and as published: every field is in the body."""

    position: int
    event_id: str
    source: str
    type: str
    version: int
    stream_id: str
    stream_version: int
    occurred_at: str
    causation_id: str | None
    correlation_id: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    key_id: str
    signature: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def hashed_body(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HASHED_FIELDS}

    def computed_hash(self) -> str:
        return signing.chain_hash(self.prev_hash, self.hashed_body())

    def to_message(self) -> dict[str, Any]:
        """The event's fields as a dict; the payload is the event's own, not a copy: do not change it.

        Not ``dataclasses.asdict``, which deep-copies the payload field by field:
        that was a tenth of a millisecond per event on every path that stores,
        journals or publishes one (bench: rebuild, relay, verify).
        """
        return {name: getattr(self, name) for name in MESSAGE_FIELDS}

    @classmethod
    def from_message(cls, body: Any) -> "RecordedEvent":
        errors = _ENVELOPE.validate(body) if isinstance(body, dict) else {"_schema": ["not an object"]}
        if errors:
            raise ContractError(f"envelope invalid: {errors}")
        return cls(**{name: body[name] for name in _ENVELOPE.fields})

    def upcast_payload(self) -> tuple[int, dict[str, Any]]:
        return upcast(self.type, self.version, self.payload)


class EnvelopeSchema(Schema):
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    event_id = _uuid()
    source = fields.String(required=True, validate=validate.Length(1, 40))
    type = fields.String(required=True, validate=validate.Length(1, 80))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    stream_id = fields.String(required=True, validate=validate.Length(1, 200))
    stream_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.String(required=True, validate=validate.Length(20, 40))
    causation_id = fields.String(required=True, allow_none=True)
    correlation_id = fields.String(required=True, validate=validate.Length(1, 200))
    payload = fields.Dict(required=True)
    prev_hash = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    hash = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    key_id = fields.String(required=True, validate=validate.Length(1, 64))
    signature = fields.String(required=True, validate=validate.Length(1, 200))


_ENVELOPE = EnvelopeSchema()


def check_event(event: RecordedEvent, keyring: signing.Keyring | None) -> None:
    """Everything a receiver can check of one event on its own.

    Raises ContractError with the reason: wrong owner, schema, hash or
    signature. The chain across events is checked by whoever holds them all.
    """
    contract = contract_for(event.type, event.version)
    if not contract.signed_by(event.source):
        raise ContractError(f"{event.type} must come from {contract.source}, not {event.source}")
    validate_payload(event.type, event.version, event.payload)
    if event.computed_hash() != event.hash:
        raise ContractError("hash does not match the event's content")
    if keyring is not None:
        problem = keyring.verify(event.source, event.key_id, event.hash, event.signature)
        if problem:
            raise ContractError(problem)


__all__ = [
    "CONTRACTS", "Contract", "ContractError", "KINDS", "LATEST", "NewEvent", "RecordedEvent",
    "RESPONSE_STATUSES", "VISIBILITIES", "ValidationError", "check_event", "contract_for",
    "upcast", "utc_now", "validate_payload",
]
