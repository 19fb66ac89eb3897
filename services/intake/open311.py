"""An Open311 GeoReport v2 service request as a submission. Pure.

Publicview serves /open311/v2/ and forwards a POST here as JSON (the form's
fields, ``attributes`` holding ``attribute[code]``). Errors come back in the
Open311 error shape: ``{"errors": [{"code": ..., "description": ...}]}``.
How each spec field is used:

- service_code: the kind; required (400 when missing, 404 when unknown).
- description: the complaint's text (10 to 4,000 characters).
- attribute[kelurahan] (required), attribute[visibility], attribute[title]:
  the service definition's attributes; without a title, the start of the
  description is the title.
- address_string, or lat and long: the location text (the city keeps no
  coordinates; lat/long without an address become "Koordinat lat, long").
  address_id alone is refused: there is no address registry to resolve it.
- first_name + last_name, phone, email: the reporter's contact, kept only
  encrypted in intake like any other; never in an event.
- device_id, account_id, media_url: not kept (identifiers of a person or a
  device; a remote URL the city would have to fetch).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from kesah import reference

from . import domain

# Where the submission schema's fields came from in the Open311 request.
SPEC_NAMES = {
    "kind": "service_code", "title": "attribute[title]", "body": "description",
    "kelurahan": "attribute[kelurahan]", "address": "address_string", "visibility": "attribute[visibility]",
    "name": "first_name/last_name", "phone": "phone", "email": "email", "reporter": "data pelapor",
}


class Refused(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


def _coordinate(params: Mapping[str, Any], name: str, limit: float) -> float:
    try:
        value = float(_text(params, name))
    except ValueError:
        raise Refused(400, f"{name} harus berupa angka derajat WGS84.") from None
    if not math.isfinite(value) or abs(value) > limit:
        raise Refused(400, f"{name} di luar rentang (paling besar {limit:g} derajat).")
    return value


def submission_data(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the submission schema checks next; raises Refused for what only Open311 can say."""
    kinds = reference.load().kinds
    kind = _text(params, "service_code")
    if not kind:
        raise Refused(400, "service_code wajib diisi.")
    if kind not in kinds:
        raise Refused(404, f"service_code '{kind}' tidak dikenal; lihat services.xml.")
    attributes = params.get("attributes") if isinstance(params.get("attributes"), dict) else {}
    description = _text(params, "description")
    if len(description) > 4000:
        raise Refused(400, "description paling banyak 4.000 karakter.")
    address = _text(params, "address_string")
    if not address:
        has_lat, has_long = bool(_text(params, "lat")), bool(_text(params, "long"))
        if has_lat and has_long:
            lat = _coordinate(params, "lat", 90)
            long = _coordinate(params, "long", 180)
            address = f"Koordinat {lat:.6f}, {long:.6f}"
        elif has_lat or has_long:
            raise Refused(400, "lat dan long harus dikirim berdua.")
        elif _text(params, "address_id"):
            raise Refused(400, "address_id tidak didukung; kirim address_string, atau lat dan long.")
        else:
            raise Refused(400, "Lokasi wajib diisi: address_string, atau lat dan long.")
    if not _text(attributes, "kelurahan"):
        raise Refused(400, "attribute[kelurahan] wajib diisi; lihat services/{service_code}.xml.")
    reporter = {
        "name": " ".join(p for p in (_text(params, "first_name"), _text(params, "last_name")) if p),
        "phone": _text(params, "phone"),
        "email": _text(params, "email"),
    }
    return {
        "kind": kind,
        "title": _text(attributes, "title") or domain.title_from(description, kinds[kind]),
        "body": description,
        "kelurahan": _text(attributes, "kelurahan"),
        "address": address[:300],
        "visibility": _text(attributes, "visibility") or "public",
        "reporter": {k: v for k, v in reporter.items() if v},
    }


def errors_from(messages: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The submission schema's field errors as Open311 errors, named as the client sent them."""
    found: list[dict[str, Any]] = []
    for field, value in messages.items():
        if isinstance(value, dict):
            found += errors_from(value)
            continue
        for message in value if isinstance(value, list) else [value]:
            found.append({"code": 400, "description": f"{SPEC_NAMES.get(field, field)}: {message}"})
    return found
