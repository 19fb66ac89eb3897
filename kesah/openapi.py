"""The OpenAPI 3 document of every HTTP face, served at ``GET /api/openapi.json``.

One document for the whole HTTP surface that ``gateway.ROUTES`` maps to the
faces: the public pages and JSON API, Open311, intake's submission API and
form, the signed webhooks, the agency API and portal, the probes. Request
bodies come from the faces' own marshmallow schemas (apispec's marshmallow
plugin), so what the document says and what the faces check cannot drift
apart. Like ``gateway.build_face`` it is the one place in ``kesah`` that
knows the faces: it imports their schemas, never their logic.

``tests/contract/test_openapi.py`` fails when a route of any face is not
described here; ``tests/e2e/test_fuzz_api.py`` fuzzes the served document.
"""

from __future__ import annotations

import functools
from typing import Any

PATH = "/api/openapi.json"
VERSION = "1.0.0"

_ERROR = {"$ref": "#/components/schemas/Error"}
_OPEN311_FORMAT = {"name": "fmt", "in": "path", "required": True, "schema": {"type": "string", "enum": ["json", "xml"]},
                   "description": "`json` or `xml`"}
_TRACKING_CODE = {"name": "code", "in": "path", "required": True,
                  "schema": {"type": "string", "maxLength": 40, "example": "KJ4M-X7PA"},
                  "description": "tracking code, typed any way (case, spaces, the dash)"}


def _text(max_length: int = 200) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema or _text(), "description": description}


def _json(description: str, schema: Any = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or {"type": "object"}}}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {400: "broken JSON or parameters", 401: "no valid agency token", 403: "not allowed",
               404: "not found", 409: "not now", 413: "too large", 415: "not JSON", 422: "field errors",
               429: "too many submissions from this address", 503: "not configured or not ready"}
    return {str(s): _json(reasons[s], _ERROR) for s in statuses}


def _page(summary: str, *, tag: str = "pages", parameters: list[dict[str, Any]] | None = None,
          statuses: tuple[int, ...] = (), redirects: bool = False) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _html(summary)}
    if redirects:
        responses["303"] = {"description": "redirect"}
    responses.update({str(s): _html("error page") for s in statuses})
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _portal(summary: str, form: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
            methods: tuple[str, ...] = ("get",)) -> dict[str, Any]:
    """A page of the agency portal: a session cookie, and the session's CSRF token in every form."""
    operations = {}
    for method in methods:
        operation = _page(summary, tag="agency portal", parameters=parameters if method == "get" else None,
                          statuses=(403, 404, 409, 422, 503), redirects=True)
        operation["security"] = [{"portalSession": []}]
        if method == "post":
            properties = {"csrf_token": _text(100), **(form or {})}
            operation["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": properties, "required": ["csrf_token"]}}}}
        operations[method] = operation
    return operations


def _download(summary: str, media_type: str) -> dict[str, Any]:
    return {"get": {"tags": ["open data"], "summary": summary,
                    "responses": {"200": {"description": summary, "content": {media_type: {"schema": {"type": "string"}}}}}}}


def _open311(summary: str, parameters: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    answers = {"description": summary, "content": {"application/json": {"schema": {}}, "application/xml": {"schema": {}}}}
    errors = {"description": "Open311 errors: [{code, description}]",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Open311Errors"}},
                          "application/xml": {"schema": {}}}}
    return {"tags": ["open311"], "summary": summary, "parameters": [_OPEN311_FORMAT, *(parameters or [])],
            "responses": {"200": answers, "400": errors, "404": errors}, **extra}


def _paths() -> dict[str, dict[str, Any]]:
    from services.intake.channels.meta import SIGNATURE_HEADER as META_SIGNATURE
    from services.intake.channels.signed import SIGNATURE_HEADER as CHANNEL_SIGNATURE
    from kesah import reference

    ref = reference.load()
    kinds = sorted(ref.kinds)
    kelurahan = {"type": "string", "enum": sorted(ref.kelurahan)}
    form_submission = {
        **{k: _text(5000) for k in ("kind", "title", "body", "kelurahan", "address", "name", "phone", "email")},
        "visibility": {"type": "string", "enum": ["public", "anonymous", "confidential"]},
        "photo": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP"},
    }
    follow_up = {"type": "object", "required": ["secret", "action"], "properties": {
        "secret": _text(200), "action": {"type": "string", "enum": ["selesai", "buka"]}, "comment": _text(2000)}}
    list_filters = [
        _query("q", "full-text search"), _query("jenis", "kind", {"type": "string", "enum": kinds}),
        _query("kelurahan", "kelurahan", kelurahan), _query("instansi", "agency id", {"type": "string", "enum": sorted(a.id for a in ref.agencies)}), _query("status", "status"),
        _query("dari", "first day, YYYY-MM-DD", {"type": "string", "format": "date"}),
        _query("sampai", "last day, YYYY-MM-DD", {"type": "string", "format": "date"}),
        _query("halaman", "page number", {"type": "integer", "minimum": 1}),
    ]
    signed_headers = [{"name": CHANNEL_SIGNATURE, "in": "header", "required": True, "schema": _text(100),
                       "description": "sha256=<HMAC-SHA256 of the raw body with the channel's secret, hex>"}]
    return {
        # --- probes (every face answers them; through the gateway, publicview's) ---
        "/healthz": {"get": {"tags": ["probes"], "summary": "the process runs", "responses": {"200": _json("ok")}}},
        "/readyz": {"get": {"tags": ["probes"], "summary": "every check passes",
                            "parameters": [_query("check", "only these checks", {"type": "array", "items": _text(40)})],
                            "responses": {"200": _json("ready"), **_errors(400), "503": _json("not ready")}}},
        "/metrics": {"get": {"tags": ["probes"], "summary": "Prometheus text",
                             "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        PATH: {"get": {"tags": ["api"], "summary": "this document", "responses": {"200": _json("OpenAPI 3 document")}}},
        # --- intake: submissions ---
        "/api/complaints": {"post": {
            "tags": ["api"], "summary": "submit a complaint",
            "requestBody": {"required": True, "content": {"application/json": {"schema": "Submission"}}},
            "responses": {"201": _json("accepted: tracking code and the reporter's secret", "Accepted"),
                          **_errors(400, 413, 415, 422, 429)}}},
        "/lapor": {
            "get": _page("the submission form", tag="pages"),
            "post": {**_page("the confirmation, or the form with its errors", statuses=(400, 413, 422, 429)),
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "properties": form_submission}}}}},
        },
        "/api/intake/complaints/{code}/follow-up": {"post": {
            "tags": ["api"], "summary": "the reporter confirms (selesai) or reopens (buka)", "parameters": [_TRACKING_CODE],
            "requestBody": {"required": True, "content": {"application/json": {"schema": follow_up}}},
            "responses": {"201": _json("done"), **_errors(400, 403, 404, 409, 415, 422)}}},
        "/pelapor/{code}": {
            "get": _page("the reporter's follow-up form", parameters=[_TRACKING_CODE]),
            "post": {**_page("the follow-up's outcome", parameters=[_TRACKING_CODE], statuses=(403, 404, 409, 422)),
                     "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": follow_up}}}},
        },
        "/api/intake/photos/{photo_id}": {"get": {
            "tags": ["api"], "summary": "a complaint's photo, metadata stripped",
            "parameters": [{"name": "photo_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": {"description": "the photo", "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}},
                          **_errors(404)}}},
        "/api/intake/open311/requests": {"post": {
            "tags": ["open311"], "summary": "an Open311 POST as publicview forwards it (JSON of the form's fields)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "properties": {
                "api_key": _text(100), "service_code": {"type": "string", "enum": kinds}, "description": _text(4000),
                "address_string": _text(300), "lat": _text(30), "long": _text(30),
                "attributes": {"type": "object", "additionalProperties": _text(200)}}}}}},
            "responses": {"201": _json("accepted"), "400": _json("Open311 errors", {"$ref": "#/components/schemas/Open311Errors"}),
                          "403": _json("unknown api_key", {"$ref": "#/components/schemas/Open311Errors"}),
                          "404": _json("unknown service_code", {"$ref": "#/components/schemas/Open311Errors"})}}},
        # --- intake: webhooks ---
        "/api/intake/meta": {
            "get": {"tags": ["webhooks"], "summary": "Meta's subscription check",
                    "parameters": [_query("hub.mode", "subscribe"), _query("hub.verify_token", "our verify token"),
                                   _query("hub.challenge", "echoed when the token matches")],
                    "responses": {"200": {"description": "the challenge", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                  **_errors(403)}},
            "post": {"tags": ["webhooks"], "summary": "Meta's notifications (Facebook, Instagram, WhatsApp)",
                     "parameters": [{"name": META_SIGNATURE, "in": "header", "required": True, "schema": _text(100),
                                     "description": "sha256=<HMAC-SHA256 of the raw body with the app secret, hex>"}],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": "MetaNotification"}}},
                     "responses": {"200": _json("what became of each post", "Receipts"), **_errors(400, 403, 413, 415, 422, 503)}},
        },
        "/api/intake/channels/{channel}": {"post": {
            "tags": ["webhooks"], "summary": "the generic signed webhook of a channel named in KESAH_CHANNEL_SECRETS",
            "parameters": [{"name": "channel", "in": "path", "required": True, "schema": _text(40)}, *signed_headers],
            "requestBody": {"required": True, "content": {"application/json": {"schema": "Delivery"}}},
            "responses": {"200": _json("what became of each post", "Receipts"), **_errors(400, 403, 404, 413, 415, 422)}}},
        # --- responses: the agency API and portal ---
        "/api/agency/complaints": {"get": {
            "tags": ["agency api"], "summary": "complaints routed to the token's agency", "security": [{"agencyToken": []}],
            "responses": {"200": _json("the inbox"), **_errors(401)}}},
        "/api/agency/complaints/{complaint}/responses": {"post": {
            "tags": ["agency api"], "summary": "answer a complaint", "security": [{"agencyToken": []}],
            "parameters": [{"name": "complaint", "in": "path", "required": True, "schema": _text(60),
                            "description": "complaint id or tracking code"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": "Answer"}}},
            "responses": {"201": _json("answered"), **_errors(400, 401, 403, 404, 409, 415, 422)}}},
        "/agency": {"get": {**_page("the portal: to the inbox", tag="agency portal", redirects=True)}},
        "/agency/login": {
            "get": _page("login form", tag="agency portal", parameters=[_query("next", "where to go after login")]),
            "post": {**_page("log in", tag="agency portal", statuses=(403, 423), redirects=True),
                     "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
                         "type": "object", "properties": {"csrf_token": _text(100), "username": _text(100),
                                                          "password": _text(200), "next": _text(200)}}}}}},
        },
        "/agency/logout": _portal("log out", methods=("post",)),
        "/agency/inbox": _portal("the agency's complaints", parameters=[
            _query("status", "terbuka, semua or a status"), _query("overdue", "1: overdue only"),
            _query("kind", "kind"), _query("agency", "agency (operators)"), _query("queue", "routing queue (operators)")]),
        "/agency/complaints/{code}": _portal("a complaint's case file", parameters=[_TRACKING_CODE]),
        "/agency/complaints/{code}/answer": {"post": {**_portal("answer", {"body": _text(5000), "status": _text(20)},
                                                                methods=("post",))["post"], "parameters": [_TRACKING_CODE]}},
        "/agency/complaints/{code}/reroute-request": {"post": {
            **_portal("ask to re-route", {"reason": _text(1000), "suggested_agency": _text(40)}, methods=("post",))["post"],
            "parameters": [_TRACKING_CODE]}},
        "/agency/complaints/{code}/route": {"post": {
            **_portal("route (operators)", {"agency": _text(40), "reason": _text(1000)}, methods=("post",))["post"],
            "parameters": [_TRACKING_CODE]}},
        "/agency/complaints/{code}/reject": {"post": {
            **_portal("reject as spam or abuse (operators)", {"reason": _text(1000)}, methods=("post",))["post"],
            "parameters": [_TRACKING_CODE]}},
        "/agency/staff": _portal("staff accounts (admins, operators)", {
            "action": _text(20), "username": _text(100), "name": _text(100), "role": _text(20), "password": _text(200),
            "agency": _text(40)}, parameters=[_query("agency", "agency (operators)")], methods=("get", "post")),
        "/agency/agencies": _portal("agencies (operators)", {"agency_id": _text(40), "name": _text(200)},
                                    methods=("get", "post")),
        "/agency/rules": _portal("routing rules (operators)", {
            "action": _text(20), "rule_id": _text(60), "agency": _text(40), "keywords": _text(500),
            "kinds": {"type": "array", "items": {"type": "string", "enum": kinds}}, "kelurahan": _text(500)},
            parameters=[_query("text", "a text to test the rules with"), _query("kind", "kind"),
                        _query("kelurahan", "kelurahan")], methods=("get", "post")),
        "/agency/posts": _portal("social-media posts waiting for a kind or kelurahan (operators)", {
            "post_id": _text(60), "kind": {"type": "string", "enum": kinds}, "kelurahan": kelurahan},
            parameters=[_query("kode", "the tracking code just submitted")], methods=("get", "post")),
        "/agency/static/{path}": {"get": {"tags": ["agency portal"], "summary": "the portal's stylesheet",
                                          "parameters": [{"name": "path", "in": "path", "required": True, "schema": _text(100)}],
                                          "responses": {"200": {"description": "a file"}, "404": {"description": "no such file"}}}},
        # --- publicview: pages ---
        "/": {"get": _page("home: recent complaints, tracking box")},
        "/aduan": {"get": _page("public complaints: filters and full-text search", parameters=list_filters)},
        "/aduan/{code}": {"get": {**_page("one complaint: timeline, answers, photo", parameters=[_TRACKING_CODE],
                                          statuses=(404,)),
                                  "responses": {"200": _html("the complaint"), "301": {"description": "to the canonical code"},
                                                "404": _html("not found")}}},
        "/lacak": {"get": _page("tracking by code", parameters=[_query("kode", "tracking code")],
                                statuses=(400, 404), redirects=True)},
        "/statistik": {"get": _page("per agency: complaints, answered share, time to answer")},
        "/status": {"get": _page("data freshness: each owner's log head and the lag")},
        "/transparansi": {"get": _page("the owners' latest signed checkpoints and public keys")},
        "/transparansi.json": {"get": {"tags": ["api"], "summary": "the same as data",
                                       "responses": {"200": _json("checkpoints and keys")}}},
        "/transparansi/{source}-{position}.json": {"get": {
            "tags": ["api"], "summary": "one checkpoint, to keep and audit later",
            "parameters": [{"name": "source", "in": "path", "required": True, "schema": {"type": "string", "enum": ["intake", "routing", "responses"]}},
                           {"name": "position", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": _json("the checkpoint"), "404": {"description": "no such checkpoint"}}}},
        "/data": {"get": _page("the data dictionary", tag="open data")},
        "/data/aduan.csv": _download("every public complaint", "text/csv"),
        "/data/aduan.json": _download("every public complaint, one JSON object a line", "application/json"),
        "/data/peristiwa.csv": _download("every public event, signed", "text/csv"),
        "/data/peristiwa.json": _download("every public event, signed, one JSON object a line", "application/json"),
        "/data/kunci-publik.json": {"get": {"tags": ["open data"], "summary": "the owners' Ed25519 public keys",
                                            "responses": {"200": _json("keys")}}},
        "/static/{path}": {"get": {"tags": ["pages"], "summary": "stylesheet and images",
                                   "parameters": [{"name": "path", "in": "path", "required": True, "schema": _text(100)}],
                                   "responses": {"200": {"description": "a file"}, "404": {"description": "no such file"}}}},
        # --- publicview: JSON API ---
        "/api/complaints/{code}": {"get": {"tags": ["api"], "summary": "the public view of one complaint",
                                           "parameters": [_TRACKING_CODE],
                                           "responses": {"200": _json("the complaint"), **_errors(404)}}},
        "/api/status": {"get": {"tags": ["api"], "summary": "data freshness", "responses": {"200": _json("freshness")}}},
        # --- publicview: Open311 GeoReport v2 ---
        "/open311/v2/discovery.{fmt}": {"get": _open311("endpoints and formats")},
        "/open311/v2/services.{fmt}": {"get": _open311("the services: the five kinds")},
        "/open311/v2/services/{code}.{fmt}": {"get": _open311(
            "a service's definition (attribute kelurahan and its values)",
            [{"name": "code", "in": "path", "required": True, "schema": {"type": "string", "enum": kinds}}])},
        "/open311/v2/requests.{fmt}": {
            "get": _open311("service requests (complaints), newest first, at most 90 days", [
                _query("service_request_id", "tracking codes, comma separated"), _query("service_code", "kinds, comma separated"),
                _query("status", "open, closed or both"), _query("start_date", "w3 datetime or date"),
                _query("end_date", "w3 datetime or date"), _query("jurisdiction_id", "kota-bontang")]),
            "post": _open311("submit a service request (needs an api_key)", requestBody={
                "required": True, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
                    "api_key": _text(100), "service_code": {"type": "string", "enum": kinds},
                    "description": _text(4000), "address_string": _text(300), "lat": _text(30), "long": _text(30),
                    "attribute[kelurahan]": kelurahan, "attribute[title]": _text(200),
                    "first_name": _text(100), "last_name": _text(100), "phone": _text(30), "email": _text(200)}}}}}),
        },
        "/open311/v2/requests/{id}.{fmt}": {"get": _open311("one service request", [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 40}}])},
    }


@functools.lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI 3.0 document, as a JSON-ready dict (built once per process)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    from services.intake.channels.schema import DeliverySchema
    from services.intake.schemas import SubmissionSchema
    from services.responses.schemas import AnswerSchema

    spec = APISpec(
        title="Kesah Etam", version=VERSION, openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
        info={"description": "Citizen complaints of Kota Bontang: the public site, its JSON and Open311 APIs, "
                             "intake's submissions and signed webhooks, the agency API and portal. "
                             "Error messages are in Bahasa Indonesia."},
        servers=[{"url": "/"}],
    )
    spec.components.schema("Error", {"type": "object", "required": ["message"], "properties": {
        "message": {"type": "string"}, "errors": {"type": "object"}}})
    spec.components.schema("Open311Errors", {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "integer"}, "description": {"type": "string"}}}})
    # What the faces answer is described here; what they accept is their marshmallow schemas.
    spec.components.schema("Accepted", {"type": "object", "properties": {
        "complaint_id": {"type": "string", "format": "uuid"}, "tracking_code": {"type": "string"},
        "secret": {"type": "string"}, "submitted_at": {"type": "string"}, "url": {"type": "string"}}})
    spec.components.schema("Receipts", {"type": "object", "properties": {
        "received": {"type": "integer"}, "submitted": {"type": "integer"}, "waiting": {"type": "integer"},
        "duplicate": {"type": "integer"}, "posts": {"type": "array", "items": {"type": "object"}}}})
    # Meta's notifications are read leniently (what is not a post is acknowledged and left out), so only their
    # envelope is described; see services/intake/channels/meta.py.
    spec.components.schema("MetaNotification", {"type": "object", "required": ["object", "entry"], "properties": {
        "object": {"type": "string", "enum": ["page", "instagram", "whatsapp_business_account"]},
        "entry": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "time": {"type": "integer"},
            "changes": {"type": "array", "items": {"type": "object"}},
            "messaging": {"type": "array", "items": {"type": "object"}}}}}}})
    for name, schema in (("Submission", SubmissionSchema), ("Delivery", DeliverySchema), ("Answer", AnswerSchema)):
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme("agencyToken", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("portalSession", {"type": "apiKey", "in": "cookie", "name": "kesah_sesi"})
    for path, operations in _paths().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
